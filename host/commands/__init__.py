"""The verbs of the crossbox command line: one module each, with main(args) -> exit status.

cli.py imports a verb's module only when that verb runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import argparse


def named_container(args: argparse.Namespace) -> str | None:
    """The container named as CONTAINER or with -c/--container (Toolbx takes both), or None."""
    name: str | None = args.container
    option: str | None = getattr(args, "container_option", None)
    if option is not None:
        if name is not None and name != option:
            from ..errors import UsageError

            raise UsageError(f"two containers were named, {option} (-c) and {name}",
                             "name one, as CONTAINER or with -c/--container")
        name = option
    return name
