"""crossbox list: containers and images, architecture from labels and image configs.

One podman call for the containers table. The images table needs two:
`podman images` does not report architectures, so the candidates are then
inspected together in one `podman image inspect`.
"""

from __future__ import annotations

import argparse
import json
import sys

from crossbox.shared import contract
from crossbox.shared.arch import from_oci
from crossbox.shared.records import NamedTuple

from ..pull import human_size
from ..tools import podman

# 2: a container's "created" is an ISO 8601 UTC timestamp (1 had podman's "2 minutes ago").
SCHEMA_VERSION = 2

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Any


class ContainerRow(NamedTuple):
    name: str
    arch: str
    image: str
    status: str
    created: str  # as podman says it, for the table
    native_tools: bool = False
    created_iso: str | None = None  # ISO 8601 UTC, for JSON


def iso_utc(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageRow(NamedTuple):
    name: str
    arch: str
    size: int
    id: str


def container_rows(containers: list[podman.ContainerInfo]) -> list[ContainerRow]:
    return sorted(
        (ContainerRow(c.name, c.arch or "?", c.image, c.state, c.created,
                      c.labels.get(contract.LABEL_NATIVE_TOOLS) == "true", iso_utc(c.created_epoch))
         for c in containers),
        key=lambda r: r.name,
    )


def image_rows(infos: list[podman.ImageInfo], wanted: set[str] | None = None) -> list[ImageRow]:
    """A row per name (of ``wanted`` only, when given: never another tag of the same image)."""
    rows = []
    for info in infos:
        arch = from_oci(info.architecture, info.variant or None)
        shown = arch.oci if arch else (info.architecture or "?")
        for name in info.names or (f"<none>@{info.id[:12]}",):
            if wanted is None or name in wanted:
                rows.append(ImageRow(name, shown, info.size, info.id))
    return sorted({r.name: r for r in rows}.values(), key=lambda r: r.name)


def gather_images(containers: list[podman.ContainerInfo]) -> list[ImageRow]:
    """The images crossbox pulled (still under their name) and those its containers use."""
    from .. import owned

    pulled = owned.load().images
    used = [c.image for c in containers if c.is_crossbox and c.image]
    names = list(dict.fromkeys([*pulled, *used]))
    infos = podman.inspect_images(names)
    keep = {n for n in names if n not in pulled or any(i.id == pulled[n] and n in i.names for i in infos)}
    return image_rows(infos, keep)


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def as_json(containers: list[ContainerRow] | None, images: list[ImageRow] | None) -> str:
    data: dict[str, Any] = {"schema": SCHEMA_VERSION}
    if containers is not None:
        data["containers"] = [{"name": c.name, "arch": c.arch, "image": c.image, "status": c.status,
                               "created": c.created_iso, "native_tools": c.native_tools} for c in containers]
    if images is not None:
        data["images"] = [i._asdict() for i in images]
    return json.dumps(data, indent=2)


def run_list(show_containers: bool, show_images: bool, fmt: str) -> str:
    if not show_containers and not show_images:
        show_containers = show_images = True
    containers = podman.list_containers() if (show_containers or show_images) else []
    from .. import state

    state.prune({c.name: c.id for c in containers})  # state of containers that are gone
    crows = container_rows(containers) if show_containers else None
    irows = gather_images(containers) if show_images else None
    if fmt == "json":
        return as_json(crows, irows)
    parts = []
    if crows is not None:
        parts.append(render_table(
            ["CONTAINER", "ARCH", "IMAGE", "STATUS", "CREATED"],
            [[r.name, r.arch + ("+native" if r.native_tools else ""), r.image, r.status, r.created] for r in crows]))
    if irows is not None:
        parts.append(render_table(
            ["IMAGE", "ARCH", "SIZE"], [[r.name, r.arch, human_size(r.size)] for r in irows]))
    return "\n\n".join(parts)


def names(kind: str) -> list[str]:
    """Container or image names, from the same lookup as `crossbox list`, for the completion
    scripts (`crossbox list --names containers|images`, hidden)."""
    containers = podman.list_containers()
    if kind == "containers":
        return [row.name for row in container_rows(containers)]
    # An image without a name is listed as <none>@ID, which no command takes.
    return list(dict.fromkeys(row.name for row in gather_images(containers) if not row.name.startswith("<none>")))


def main(args: argparse.Namespace) -> int:
    if args.names:
        sys.stdout.write("".join(f"{name}\n" for name in names(args.names)))
        return 0
    print(run_list(args.containers, args.images, args.format))
    return 0

