"""crossbox rm and crossbox rmi."""

from __future__ import annotations

from . import listing, log, podman, readiness
from .errors import InvalidInput, NotFound


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
            raise NotFound(f"container {name} not found", "see `crossbox list`")
        if not info.is_crossbox:
            raise InvalidInput(f"container {name} was not made by crossbox", "remove it with podman")
        if info.running and not force:
            from .errors import Conflict

            raise Conflict(f"container {name} is running", "use --force to stop and remove it")
    if names:
        podman.remove_containers(names, force)
    for name in names:
        readiness.remove_state_dir(name)
        log.info("removed container", name=name)
    return names


def rmi(names: list[str], force: bool, all_: bool) -> list[str]:
    if all_ and names:
        raise InvalidInput("--all cannot be combined with image names", "give names or --all")
    if not all_ and not names:
        raise InvalidInput("no image was named", "give one or more names, or --all")
    if all_:
        rows = listing.gather_images(podman.list_containers())
        names = sorted({r.id for r in rows})
    if names:
        podman.remove_images(names, force)
    return names
