"""crossbox rmi: remove images."""

from __future__ import annotations

import argparse

from ..errors import InvalidInput
from ..tools import podman


def rmi(names: list[str], force: bool, all_: bool) -> list[str]:
    if all_ and names:
        raise InvalidInput("--all cannot be combined with image names", "give names or --all")
    if not all_ and not names:
        raise InvalidInput("no image was named", "give one or more names, or --all")
    if all_:
        from .list import gather_images

        rows = gather_images(podman.list_containers())
        names = sorted({r.id for r in rows})
    if names:
        podman.remove_images(names, force)
    return names


def main(args: argparse.Namespace) -> int:
    for name in rmi(args.images, args.force, args.all):
        print(name)
    return 0
