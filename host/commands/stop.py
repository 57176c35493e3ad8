"""crossbox stop: stop running crossbox containers (never others); they start again on use."""

from __future__ import annotations

import argparse

from .. import log
from ..errors import InvalidInput, container_not_found, not_crossbox
from ..tools import podman


def stop(names: list[str], all_: bool) -> list[str]:
    """Stop the named containers (or every running crossbox one); the names stopped or found stopped."""
    if all_ and names:
        raise InvalidInput("--all cannot be combined with container names", "give names or --all")
    if not all_ and not names:
        raise InvalidInput("no container was named", "give one or more names, or --all")
    known = {c.name: c for c in podman.list_containers(crossbox_only=False)}
    if all_:
        names = sorted(n for n, c in known.items() if c.is_crossbox and c.running)
    for name in names:
        info = known.get(name)
        if info is None:
            raise container_not_found(name)
        if not info.is_crossbox:
            raise not_crossbox(name)
    running = [n for n in dict.fromkeys(names) if known[n].running]
    if running:
        podman.stop_containers(running)
        log.info("stopped containers", names=running)
    return list(dict.fromkeys(names))


def main(args: argparse.Namespace) -> int:
    for name in stop(args.containers, args.all):
        print(name)
    return 0
