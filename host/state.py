"""A box's state on the host, its readiness, and its start: one module, one lock helper.

Each crossbox container has a state directory on the host
(``$XDG_RUNTIME_DIR/crossbox/containers/NAME`` rootless,
``/run/crossbox/containers/NAME`` rootful), bind-mounted read-write at
/run/crossbox/state in the container. In it:

- ``ready``: a FIFO the host opens before ``podman start``; the agent writes one
  status line into it (see crossbox.guest.ready), or hangs it up by dying;
- ``alive``: the agent holds a shared flock on it while it is ready, so "running
  and ready" is one non-blocking flock and no podman call (the hot path);
- ``start.lock``: one starter at a time on the host.

The top of this module is light (the hot path imports it); podman and the
progress spinner are imported by ``ensure_ready()`` only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time

from crossbox.shared import locks
from crossbox.shared.paths import ALIVE_LOCK, READY_ERROR, READY_FIFO, READY_OK, START_LOCK

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .tools.podman import ContainerInfo

ROOTFUL_BASE = "/run/crossbox"


# -- where ---------------------------------------------------------------------------------

def _usable_dir(path: str, uid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and os.access(path, os.W_OK | os.X_OK)


def runtime_base() -> str:
    """crossbox's directory for run-time state: root's, or the user's runtime directory's."""
    if os.geteuid() == 0:
        return ROOTFUL_BASE
    from .settings import current as settings

    return rootless_runtime_base(os.getuid(), settings().runtime_dir)


def rootless_runtime_base(uid: int, given: str | None, usual: str | None = None,
                          fallback: str | None = None) -> str:
    """As podman does: $XDG_RUNTIME_DIR, else /run/user/UID when it is the user's, else a
    private /tmp/crossbox-run-UID. A given directory that is not usable is an error."""
    if given:
        if not _usable_dir(given, uid):
            from .errors import HostNotReady

            raise HostNotReady(f"XDG_RUNTIME_DIR={given} is not a directory you own and can write",
                               f"unset it, or point it at one (usually /run/user/{uid})")
        return os.path.join(given, "crossbox")
    usual = usual or f"/run/user/{uid}"
    if _usable_dir(usual, uid):
        return os.path.join(usual, "crossbox")
    fallback = fallback or f"/tmp/crossbox-run-{uid}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(fallback, 0o700)
    if not _usable_dir(fallback, uid):
        from .errors import HostNotReady

        raise HostNotReady(f"no runtime directory: XDG_RUNTIME_DIR is unset, {usual} is not "
                           f"yours, and {fallback} belongs to someone else",
                           "set XDG_RUNTIME_DIR to a directory you own (log in through a session manager, "
                           "or `export XDG_RUNTIME_DIR=$(mktemp -d)`)")
    return fallback


def base_dir() -> str:
    return os.path.join(runtime_base(), "containers")


def state_dir(name: str) -> str:
    return os.path.join(base_dir(), name)


# -- locks ---------------------------------------------------------------------------------

@contextlib.contextmanager
def user_lock(file_name: str) -> Iterator[None]:
    """An exclusive lock shared by every crossbox of this user (or of root)."""
    directory = runtime_base()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    with locks.locked(os.path.join(directory, file_name)):
        yield


def is_ready(name: str) -> bool:
    """True while the agent of a running container holds its alive lock. No podman call."""
    try:
        return locks.is_held(os.path.join(state_dir(name), ALIVE_LOCK))
    except Exception:  # no usable runtime directory: not ready; the slow path says why
        return False


# -- the directory -------------------------------------------------------------------------

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


def ready_timeout() -> float:
    from .settings import current as settings

    return settings().ready_timeout


@contextlib.contextmanager
def start_lock(name: str, timeout: float) -> Iterator[None]:
    """One starter per container; a second one waits, then finds it ready."""
    path = os.path.join(ensure_state_dir(name), START_LOCK)
    try:
        with locks.locked(path, timeout=timeout):
            yield
    except locks.LockTimeout:
        from .errors import GuestFailed

        raise GuestFailed(f"another crossbox has been starting container {name} for over {timeout:.0f} s") from None


# -- readiness -----------------------------------------------------------------------------

class ReadyReport:
    __slots__ = ("elapsed", "message", "ok")

    def __init__(self, ok: bool, message: str, elapsed: float) -> None:
        self.ok = ok
        self.message = message  # the error text, or the timing fields
        self.elapsed = elapsed


class ReadyWaiter:
    """Open the FIFO before `podman start`, then wait for the agent's one line."""

    def __init__(self, name: str, owner: tuple[int, int] | None) -> None:
        self.dir = ensure_state_dir(name, owner)
        self.path = os.path.join(self.dir, READY_FIFO)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.mkfifo(self.path, 0o600)
        if owner is not None and os.geteuid() == 0:
            os.chown(self.path, *owner)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.started = time.monotonic()

    def wait(self, timeout: float) -> ReadyReport | None:
        """The agent's report, or None on timeout."""
        import select

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
        if line.startswith(READY_OK):
            return ReadyReport(True, line[len(READY_OK):].strip(), elapsed)
        if line.startswith(READY_ERROR):
            return ReadyReport(False, line[len(READY_ERROR):].strip(), elapsed)
        return ReadyReport(False, "the guest agent exited before it reported", elapsed)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(OSError):
            os.unlink(self.path)


# -- start ---------------------------------------------------------------------------------

def _owner(info: ContainerInfo) -> tuple[int, int] | None:
    from .identity import rootless

    if not rootless():
        hid = info.host_id_of_root()
        if hid is not None:
            return (hid, hid)
    return None


def _last_logs(name: str) -> str:
    from .errors import CrossboxError
    from .tools import podman

    try:
        return podman.logs_tail(name, 10)
    except CrossboxError:
        return ""


def check_usable(info: ContainerInfo) -> None:
    from crossbox.shared import contract

    from .errors import GuestFailed, InvalidInput, not_crossbox, recreate_hint

    if not info.is_crossbox:
        raise not_crossbox(info.name)
    made = info.labels.get(contract.LABEL_CONTRACT)
    if made != contract.CONTRACT_VERSION:
        raise InvalidInput(
            f"container {info.name} was made by a crossbox with agent contract {made}, "
            f"this one speaks {contract.CONTRACT_VERSION}",
            recreate_hint(info.name),
        )
    gone = [src for src in info.mounts if src and not os.path.exists(src)
            and not src.startswith(base_dir())]
    if gone:
        raise GuestFailed(
            f"container {info.name} bind-mounts {gone[0]}, which no longer exists on the host "
            "(was the host's Python or qemu upgraded?)",
            recreate_hint(info.name),
        )


def ensure_ready(name: str, timeout: float | None = None) -> bool:
    """Make sure the container runs and its agent is ready. True if crossbox started it."""
    if is_ready(name):
        return False
    from . import log, progress
    from .errors import GuestFailed, ToolError, container_not_found
    from .tools import podman

    timeout = ready_timeout() if timeout is None else timeout
    with start_lock(name, timeout):
        if is_ready(name):
            return False
        info = podman.inspect_container(name)
        if info is None:
            raise container_not_found(name)
        check_usable(info)
        if info.running:
            # Started outside crossbox just now, or its agent is still setting up.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if is_ready(name):
                    return False
                time.sleep(0.05)
            raise GuestFailed(
                f"container {name} is running but its guest agent never reported ready",
                f"see `podman logs {name}`, or restart it with `podman stop {name}`",
            )
        waiter = ReadyWaiter(name, _owner(info))
        try:
            with progress.Spinner(f"Starting container {name}"):
                try:
                    podman.start(name)
                except ToolError as exc:
                    raise GuestFailed(f"podman could not start container {name}: {exc.message}") from None
                report = waiter.wait(timeout)
        finally:
            waiter.close()
        if report is None:
            logs = _last_logs(name)
            raise GuestFailed(
                f"container {name} did not become ready within {timeout:.0f} s"
                + (f"; its last log lines: {logs}" if logs else ""),
                f"see `podman logs {name}`",
            )
        if not report.ok:
            logs = _last_logs(name)
            detail = report.message
            if logs and detail not in logs:
                detail += f" (last log lines: {logs})"
            raise GuestFailed(f"container {name} failed to start: {detail}",
                              f"see `podman logs {name}`")
        log.debug("container ready", name=name, seconds=round(report.elapsed, 3), agent=report.message)
        return True
