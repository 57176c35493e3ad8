"""What crossbox made: the images it pulled and the containers it created.

crossbox removes only what it made. The record is one small JSON file per user
(``$XDG_DATA_HOME/crossbox/owned.json``; rootful ``/var/lib/crossbox/owned.json``):

- ``images``: local name -> image id, written after crossbox pulled that name. An image
  is crossbox's only while the name still holds that id: a name that now holds
  another image (retagged by the user) is not crossbox's any more.
- ``containers``: container id -> name, written after `podman create` answered the id.

Writes take a lock and replace the file atomically; a file that cannot be read
or has the wrong shape counts as empty and is rewritten (never a traceback).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

from crossbox.shared import locks

from .identity import rootless
from .settings import current as settings

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

VERSION = 1


def base_dir() -> str:
    if not rootless():
        return "/var/lib/crossbox"
    data = settings().data_home or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "crossbox")


def path() -> str:
    return os.path.join(base_dir(), "owned.json")


class Record:
    """The parsed file: two maps, each checked entry by entry."""

    def __init__(self, images: dict[str, str] | None = None, containers: dict[str, str] | None = None) -> None:
        self.images = images or {}
        self.containers = containers or {}

    @classmethod
    def parse(cls, text: str) -> Record:
        try:
            data: Any = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()

        def strings(value: Any) -> dict[str, str]:
            if not isinstance(value, dict):
                return {}
            return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

        return cls(strings(data.get("images")), strings(data.get("containers")))

    def dump(self) -> str:
        return json.dumps({"version": VERSION, "images": self.images, "containers": self.containers},
                          indent=1, sort_keys=True)


def load() -> Record:
    try:
        with open(path(), encoding="utf-8") as f:
            return Record.parse(f.read(1 << 22))
    except (OSError, UnicodeDecodeError):
        return Record()


@contextlib.contextmanager
def changing() -> Iterator[Record]:
    """The record, to change in the block; written back (atomically) afterwards."""
    directory = base_dir()
    os.makedirs(directory, mode=0o755 if not rootless() else 0o700, exist_ok=True)
    with locks.locked(os.path.join(directory, "owned.lock")):
        record = load()
        yield record
        tmp = os.path.join(directory, f".owned-{os.getpid()}-{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(record.dump())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def add_image(name: str, image_id: str) -> None:
    with changing() as record:
        record.images[name] = image_id


def forget_images(names: list[str]) -> None:
    with changing() as record:
        for name in names:
            record.images.pop(name, None)


def add_container(container_id: str, name: str) -> None:
    with changing() as record:
        record.containers[container_id] = name


def forget_containers(ids: list[str]) -> None:
    with changing() as record:
        for container_id in ids:
            record.containers.pop(container_id, None)
