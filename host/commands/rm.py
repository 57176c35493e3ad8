"""crossbox rm: remove crossbox containers (never others), and their state directories."""

from __future__ import annotations

import argparse

from .. import log, state
from ..errors import InvalidInput, container_not_found, container_running, not_crossbox
from ..tools import podman


def rm(names: list[str], force: bool, all_: bool) -> list[str]:
    if all_ and names:
        raise InvalidInput("--all cannot be combined with container names", "give names or --all")
    if not all_ and not names:
        raise InvalidInput("no container was named", "give one or more names, or --all")
    known = {c.name: c for c in podman.list_containers(crossbox_only=False)}
    if all_:
        names = [n for n, c in known.items() if c.is_crossbox]
    for name in names:
        info = known.get(name)
        if info is None:
            raise container_not_found(name)
        if not info.is_crossbox:
            raise not_crossbox(name, "remove it with podman")
        if info.running and not force:
            raise container_running(name)
    if names:
        podman.remove_containers(names, force)
    for name in names:
        state.remove_state_dir(name)
        log.info("removed container", name=name)
    from .. import owned

    owned.forget_containers([known[n].id for n in names])
    state.prune({n: c.id for n, c in known.items() if c.is_crossbox and n not in names})
    return names


def main(args: argparse.Namespace) -> int:
    for name in rm(args.containers, args.force, args.all):
        print(name)
    return 0
