"""crossbox.shared.records.NamedTuple makes the class typing.NamedTuple makes."""

from __future__ import annotations

import pickle
import subprocess
import sys
import typing

import pytest
from crossbox.shared import records


def _pair() -> tuple[type, type]:
    made = []
    for base in (typing.NamedTuple, records.NamedTuple):
        class Point(base):  # type: ignore[misc,valid-type]
            """A point."""

            x: int
            y: int = 2
            label: str = "p"

            @property
            def norm(self) -> int:
                return abs(self.x) + abs(self.y)

            def moved(self, dx: int) -> Point:
                return self._replace(x=self.x + dx)

        made.append(Point)
    return made[0], made[1]


def test_the_stand_in_behaves_as_typing_namedtuple() -> None:
    real, ours = _pair()
    for cls in (real, ours):
        p = cls(1)
        assert p == (1, 2, "p") and p.x == 1 and p.y == 2 and p.label == "p"
        assert cls._fields == ("x", "y", "label") and cls._field_defaults == {"y": 2, "label": "p"}
        assert p.norm == 3 and p.moved(2) == cls(3) and p._asdict() == {"x": 1, "y": 2, "label": "p"}
        assert cls(x=1, label="q") == (1, 2, "q") and hash(p) == hash((1, 2, "p"))
        assert cls.__doc__ == "A point." and cls.__name__ == "Point" and cls.__module__ == __name__
        assert list(cls.__annotations__) == ["x", "y", "label"]
        assert isinstance(p, tuple) and not hasattr(p, "__dict__")
        with pytest.raises(AttributeError):
            p.x = 5  # type: ignore[misc]
        with pytest.raises(TypeError):
            cls()
    assert repr(real(1)) == repr(ours(1)) == "Point(x=1, y=2, label='p')"


def test_the_stand_in_refuses_what_typing_refuses() -> None:
    with pytest.raises(TypeError):
        class Bad(records.NamedTuple):
            a: int = 1
            b: int
    with pytest.raises(AttributeError):
        class Worse(records.NamedTuple):
            a: int

            def _asdict(self) -> dict[str, int]:
                return {}


def test_records_pickle_as_module_level_classes() -> None:
    from crossbox.shared.arch import ARCHITECTURES

    arch = ARCHITECTURES[0]
    assert pickle.loads(pickle.dumps(arch)) == arch


def test_neither_host_create_nor_guest_imports_typing() -> None:
    code = ("import sys\n"
            "import crossbox.host.cli, crossbox.host.commands.create, crossbox.host.checks\n"
            "import crossbox.host.commands.list\n"
            "import crossbox.guest.main, crossbox.shared.binfmt, crossbox.shared.contract\n"
            "print('typing' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr
