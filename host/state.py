"""Where a container's host-side state lives, and whether its agent is ready.

Imports nothing heavy: this is the whole of `crossbox run`'s check on a
running container, before it becomes `podman exec`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator

from crossbox.shared.paths import ALIVE_LOCK


def base_dir() -> str:
    if os.geteuid() == 0:
        return "/run/crossbox/containers"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.join(runtime, "crossbox", "containers")


def state_dir(name: str) -> str:
    return os.path.join(base_dir(), name)


@contextlib.contextmanager
def user_lock(file_name: str) -> Iterator[None]:
    """An exclusive flock shared by every crossbox of this user (or of root)."""
    directory = os.path.dirname(base_dir())
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(directory, file_name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def is_ready(name: str) -> bool:
    """True while the agent of a running container holds its alive lock. No podman call."""
    try:
        fd = os.open(os.path.join(state_dir(name), ALIVE_LOCK), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)
    return False
