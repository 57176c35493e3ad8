"""The host side of readiness: per-container state directory, FIFO and locks.

See crossbox.guest.ready for the agent's side. The state directory lives on
the host (``$XDG_RUNTIME_DIR/crossbox/containers/NAME`` rootless,
``/run/crossbox/containers/NAME`` rootful) and is bind-mounted read-write at
/run/crossbox/state in the container.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

from crossbox.shared import contract

from .errors import GuestFailed
from .state import base_dir, is_ready, state_dir

__all__ = ["base_dir", "is_ready", "state_dir"]

READY_TIMEOUT_ENV = "CROSSBOX_READY_TIMEOUT"
DEFAULT_READY_TIMEOUT = 30.0


def ready_timeout() -> float:
    try:
        return float(os.environ.get(READY_TIMEOUT_ENV, DEFAULT_READY_TIMEOUT))
    except ValueError:
        return DEFAULT_READY_TIMEOUT


def ensure_state_dir(name: str, owner: tuple[int, int] | None = None) -> str:
    """Create the directory (mode 0700); chown it to container root's host ids if given."""
    path = state_dir(name)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    if owner is not None and os.geteuid() == 0:
        st = os.stat(path)
        if (st.st_uid, st.st_gid) != owner:
            os.chown(path, *owner)
    return path


def remove_state_dir(name: str) -> None:
    shutil.rmtree(state_dir(name), ignore_errors=True)


@contextlib.contextmanager
def start_lock(name: str, timeout: float) -> Iterator[None]:
    """One starter per container; a second one waits, then finds it ready."""
    path = os.path.join(ensure_state_dir(name), contract.START_LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GuestFailed(
                        f"another crossbox has been starting container {name} for over {timeout:.0f} s"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class ReadyReport:
    ok: bool
    message: str  # the error text, or the timing fields
    elapsed: float


class ReadyWaiter:
    """Open the FIFO before `podman start`, then wait for the agent's one line."""

    def __init__(self, name: str, owner: tuple[int, int] | None) -> None:
        self.dir = ensure_state_dir(name, owner)
        self.path = os.path.join(self.dir, contract.READY_FIFO)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.mkfifo(self.path, 0o600)
        if owner is not None and os.geteuid() == 0:
            os.chown(self.path, *owner)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.started = time.monotonic()

    def wait(self, timeout: float) -> ReadyReport | None:
        """The agent's report, or None on timeout."""
        deadline = self.started + timeout
        data = b""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            events = poller.poll(left * 1000)
            for _, event in events:
                if event & select.POLLIN:
                    chunk = os.read(self.fd, 4096)
                    data += chunk
                    if b"\n" in data or not chunk:
                        return self._report(data)
                elif event & select.POLLHUP:
                    return self._report(data)

    def _report(self, data: bytes) -> ReadyReport:
        line = data.decode(errors="replace").split("\n", 1)[0].strip()
        elapsed = time.monotonic() - self.started
        if line.startswith(contract.READY_OK):
            return ReadyReport(True, line[len(contract.READY_OK):].strip(), elapsed)
        if line.startswith(contract.READY_ERROR):
            return ReadyReport(False, line[len(contract.READY_ERROR):].strip(), elapsed)
        return ReadyReport(False, "the guest agent exited before it reported", elapsed)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(OSError):
            os.unlink(self.path)
