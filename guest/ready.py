"""Readiness: one status line into the host's FIFO, and a lock held while alive.

The host opens the FIFO for reading before it starts the container, so the
agent opens it first thing: if the agent dies before it reports, the host sees
the FIFO hang up at once instead of waiting for its timeout. Once set up, the
agent holds a shared flock on ``alive`` until it exits; the kernel drops the
lock when the container stops, so the host can tell "running and ready" with
one non-blocking flock and no podman call.
"""

from __future__ import annotations

import contextlib
import os

from crossbox.shared import locks
from crossbox.shared.contract import ALIVE_LOCK, READY_ERROR, READY_FIFO, READY_OK, STATE_DIR

from . import log


class Readiness:
    def __init__(self, state_dir: str = STATE_DIR) -> None:
        self.state_dir = state_dir
        self.fifo_fd: int | None = None
        self.alive_fd: int | None = None

    def open(self) -> None:
        path = os.path.join(self.state_dir, READY_FIFO)
        try:
            self.fifo_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            # ENXIO: nobody waits (started by plain podman); ENOENT: no state directory.
            log.debug("no readiness reader", path=path, error=exc.strerror)

    def _send(self, line: str) -> None:
        if self.fifo_fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.fifo_fd, (line.replace("\n", " ") + "\n").encode()[:4000])
        with contextlib.suppress(OSError):
            os.close(self.fifo_fd)
        self.fifo_fd = None

    def hold_alive(self) -> None:
        path = os.path.join(self.state_dir, ALIVE_LOCK)
        try:
            self.alive_fd = locks.acquire(path, shared=True, mode=0o644)
        except OSError as exc:
            log.debug("no alive lock", path=path, error=exc.strerror)

    def release(self) -> None:
        """Not ready any more (the agent is stopping): drop the alive lock now, not when the
        process has finished exiting, so that the host's hot path stops sending sessions to a
        container podman is stopping."""
        if self.alive_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.alive_fd)
            self.alive_fd = None

    def ready(self, **timing: float) -> None:
        self.hold_alive()
        extra = " ".join(f"{k}={v:.1f}" for k, v in timing.items())
        self._send(f"{READY_OK} {extra}".strip())

    def failed(self, message: str) -> None:
        self._send(f"{READY_ERROR} {message}")
