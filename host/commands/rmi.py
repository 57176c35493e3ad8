"""crossbox rmi: remove images by name, never another tag of the same image, never a container
crossbox did not make.

- `rmi NAME...` removes those names (an image with other names keeps them);
- `rmi -a` removes the images crossbox pulled (its record, crossbox.host.owned), and only
  while each name still holds the image crossbox pulled;
- `-f` also removes the crossbox containers that use an image; a container crossbox did not
  make blocks the removal, and is named.
"""

from __future__ import annotations

import argparse

from .. import log, owned, state
from ..errors import Conflict, InvalidInput, image_not_found
from ..tools import podman


def _names(containers: list[podman.ContainerInfo]) -> str:
    return ", ".join(sorted(c.name for c in containers))


def rmi(names: list[str], force: bool, all_: bool) -> list[str]:
    if all_ and names:
        raise InvalidInput("--all cannot be combined with image names", "give names or --all")
    if not all_ and not names:
        raise InvalidInput("no image was named", "give one or more names, or --all")
    if all_:
        pulled = owned.load().images
        infos = {n: podman.inspect_image(n) for n in pulled}
        names = [n for n, info in infos.items() if info is not None and info.id == pulled[n]]
        gone = [n for n in pulled if n not in names]
        if gone:
            owned.forget_images(gone)  # removed or replaced by someone else: not crossbox's now
    targets: list[tuple[str, podman.ImageInfo]] = []
    for name in names:
        info = podman.inspect_image(name)
        if info is None:
            raise image_not_found(name)
        targets.append((name, info))
    containers = podman.list_containers(crossbox_only=False)
    remove_boxes: dict[str, podman.ContainerInfo] = {}
    for name, info in targets:
        if len(info.names) > 1:
            continue  # only a name goes; the image stays for its other names and its containers
        users = [c for c in containers if c.image_id == info.id or c.image == name]
        plain = [c for c in users if not c.is_crossbox]
        if plain:
            raise Conflict(f"image {name} is used by {_names(plain)}, which crossbox did not make",
                           "remove those with podman first")
        if users and not force:
            raise Conflict(f"image {name} is used by container(s) {_names(users)}",
                           "remove them first, or use --force to remove them too")
        remove_boxes.update({c.id: c for c in users})
    if remove_boxes:
        boxes = list(remove_boxes.values())
        podman.remove_containers([c.id for c in boxes], force=True)
        for c in boxes:
            state.remove_state_dir(c.name)
            log.info("removed container", name=c.name)
        owned.forget_containers([c.id for c in boxes])
    removed = []
    for name, _ in targets:
        podman.remove_images([name], force=False)
        removed.append(name)
    owned.forget_images(removed)
    return removed


def main(args: argparse.Namespace) -> int:
    for name in rmi(args.images, args.force, args.all):
        print(name)
    return 0
