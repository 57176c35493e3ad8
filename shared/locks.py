"""File locks: the one lock helper of the host launcher and the guest agent.

Stdlib only and light to import: the host's hot path (`crossbox run` on a
running container) is one `is_held()` and then `podman exec`.

Two kinds of lock are used, on purpose:
- flock(2) (the default) for crossbox's own files: the agent's alive lock, the
  host's start and create locks. The kernel drops it when the last descriptor
  closes, so a stopped container frees its alive lock by itself.
- POSIX record locks (``posix=True``) for ``/etc/.pwd.lock``, because that is
  what lckpwdf(3) and the shadow tools take there.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

POLL_SECONDS = 0.02


class LockTimeout(Exception):
    """The lock stayed held by someone else for the whole timeout."""


def lock(fd: int, *, shared: bool = False, posix: bool = False, timeout: float | None = None) -> None:
    """Lock an open file; wait forever (timeout None), not at all (0), or up to timeout seconds."""
    kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    take = fcntl.lockf if posix else fcntl.flock
    if timeout is None:
        take(fd, kind)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            take(fd, kind | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
        if time.monotonic() >= deadline:
            raise LockTimeout(f"lock held by another process for over {timeout:g} s")
        time.sleep(POLL_SECONDS)


def open_lock_file(path: str, mode: int = 0o600) -> int:
    """Open (creating) a lock file; never through a symlink at its last component."""
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    return os.open(path, flags, mode)


def acquire(path: str, *, shared: bool = False, posix: bool = False, timeout: float | None = None,
            mode: int = 0o600) -> int:
    """Open and lock ``path``; the caller owns the descriptor (closing it unlocks)."""
    fd = open_lock_file(path, mode)
    try:
        lock(fd, shared=shared, posix=posix, timeout=timeout)
    except BaseException:
        os.close(fd)
        raise
    return fd


class locked:  # used as a function: `with locked(path) as fd:`
    """Hold the lock on ``path`` for the block (the descriptor is the block's).

    A class, not a contextlib generator: contextlib and what it imports cost the host's
    hot path a few milliseconds."""

    def __init__(self, path: str, *, shared: bool = False, posix: bool = False, timeout: float | None = None,
                 mode: int = 0o600) -> None:
        self.fd = acquire(path, shared=shared, posix=posix, timeout=timeout, mode=mode)

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)


def is_held(path: str) -> bool:
    """Whether another process holds a flock on ``path`` (which must exist). No waiting."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)
    return False
