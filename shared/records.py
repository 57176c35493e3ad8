"""``NamedTuple`` without importing ``typing``.

``typing`` takes about 15 ms to import on the machines crossbox is measured on,
more than a tenth of a `crossbox create`'s own time, and the guest agent's boot
pays it too. Every record of host and guest is a ``typing.NamedTuple`` class
(its ``class X(NamedTuple): field: type = default`` form), and nothing else of
``typing`` is needed at run time (annotations are strings: ``from __future__
import annotations``). So at run time ``NamedTuple`` is this stand-in, which
makes the same class with ``collections.namedtuple`` (fields in order,
defaults, methods, properties, docstring); type checkers see typing's own::

    from crossbox.shared.records import NamedTuple

Stdlib only (the guest imports it inside foreign images).
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from collections import namedtuple

    _KEPT_OUT = frozenset(("__module__", "__qualname__", "__annotations__", "__dict__", "__weakref__",
                           "__slots__", "__orig_bases__", "__static_attributes__", "__firstlineno__"))
    _REFUSED = frozenset(("__new__", "__init__", "__getnewargs__", "_make", "_fields", "_field_defaults",
                          "_replace", "_asdict", "_source"))

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if not bases:  # NamedTuple itself
                return super().__new__(mcls, name, bases, namespace)
            if bases != (NamedTuple,):
                raise TypeError(f"{name}: a record derives from NamedTuple alone")
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[f] for f in fields if f in namespace]
            given = [f for f in fields if f in namespace]
            if given != fields[len(fields) - len(given):]:
                raise TypeError(f"{name}: a field without a default follows one with a default")
            cls = namedtuple(name, fields, defaults=defaults, module=namespace.get("__module__"))
            for key, value in namespace.items():
                if key in _REFUSED:
                    raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {key}")
                if key not in _KEPT_OUT and key not in fields:
                    setattr(cls, key, value)
            cls.__qualname__ = namespace.get("__qualname__", name)
            cls.__annotations__ = dict(namespace.get("__annotations__", {}))
            return cls

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of a record: ``class X(NamedTuple)`` makes a ``collections.namedtuple`` class."""

__all__ = ["NamedTuple"]
