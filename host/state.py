"""A box's state on the host, its readiness, and its start: one module, one lock helper.

Each crossbox container has a state directory on the host
(``$XDG_RUNTIME_DIR/crossbox/containers/NAME`` rootless,
``/run/crossbox/containers/NAME`` rootful), private to the host:

- ``id``: the id of the container the directory was made for (the hot path execs
  into that container only, never into whatever holds the name now);
- ``start.lock``: one starter at a time;
- ``inspected.json``: the box's configuration from the inspection before its last
  start (labels, mounts, id maps, command: nothing podman can change), so that the
  next start checks it from here and asks podman to start the box only if NAME is
  still that container (``podman start --filter id=...``);
- ``create.json``: the `podman create` arguments, until the box's first start;
- ``box/``: the part the container sees, bind-mounted read-write at
  /run/crossbox/state: the ``ready`` FIFO (the host opens it before ``podman
  start``; the agent writes one status line, or hangs it up by dying), the
  ``alive`` lock (held by the agent while it is ready: "running and ready" is
  one non-blocking flock and no podman call), the ``control`` FIFO (the host asks
  the agent to signal a session), and the session environment.

The top of this module is light (the hot path imports it); podman and the
progress spinner are imported by ``ensure_ready()`` only.
"""

from __future__ import annotations

import os
import time

from crossbox.shared import locks
from crossbox.shared.paths import ALIVE_LOCK, READY_ERROR, READY_FIFO, READY_OK, START_LOCK

from .identity import rootless

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from .tools.podman import ContainerInfo

ROOTFUL_BASE = "/run/crossbox"
ID_FILE = "id"
STORAGE_FILE = "storage"  # the CONTAINERS_STORAGE_CONF the container was made under ("" for none)
SHARED = "box"
CONTAINER_ID_LENGTH = 64
FIRST_WAIT_SECONDS = 1.0
UNFINISHED_CREATE_SECONDS = 600.0


# try/except, not contextlib.suppress: contextlib and what it imports would cost the hot
# path, which imports this module, a few milliseconds.
def _mkdir_private(path: str) -> None:
    """mkdir with mode 0700, unless the path exists."""
    try:  # noqa: SIM105 (no contextlib on the hot path)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass


def _unlink_if_present(path: str) -> None:
    try:  # noqa: SIM105 (no contextlib on the hot path)
        os.unlink(path)
    except FileNotFoundError:
        pass


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
    if not rootless():
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
    _mkdir_private(fallback)
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
    """The host-private state directory of the container NAME."""
    return os.path.join(base_dir(), name)


def shared_dir(name: str) -> str:
    """The part of the state directory the container sees (at /run/crossbox/state)."""
    return os.path.join(state_dir(name), SHARED)


# -- locks and the hot path ----------------------------------------------------------------

def user_lock(file_name: str) -> locks.locked:
    """An exclusive lock shared by every crossbox of this user (or of root), for a `with` block."""
    directory = runtime_base()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return locks.locked(os.path.join(directory, file_name))


def is_ready(name: str) -> bool:
    """True while the agent of a running container holds its alive lock. No podman call."""
    try:
        return locks.is_held(os.path.join(shared_dir(name), ALIVE_LOCK))
    except Exception:  # no usable runtime directory: not ready; the slow path says why
        return False


def ready_id(name: str) -> str | None:
    """The hot path: the id of the crossbox container NAME when it is running and ready."""
    if not is_ready(name):
        return None
    if locks.is_held(os.path.join(state_dir(name), START_LOCK)):
        # A start in progress: the agent can be ready before podman calls the container
        # running, and podman exec refuses until then ("container state improper"). The
        # slow path waits for the starter.
        return None
    return recorded_id(name)


def recorded_id(name: str) -> str | None:
    """The container id the state directory was made for; None when unknown."""
    try:
        fd = os.open(os.path.join(state_dir(name), ID_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except Exception:
        return None
    try:
        text = os.read(fd, 256).decode("ascii", errors="replace").strip()
    finally:
        os.close(fd)
    ok = len(text) == CONTAINER_ID_LENGTH and all(c in "0123456789abcdef" for c in text)
    return text if ok else None


# -- the directory -------------------------------------------------------------------------

def new_state_dir(name: str) -> bool:
    """The state directory for a container about to be created; True if this call made it
    (a failed create then removes it), False if it was there already (left as it is)."""
    path = state_dir(name)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        _mkdir_private(shared_dir(name))
        return False
    os.mkdir(shared_dir(name), 0o700)
    return True


def ensure_state_dir(name: str, owner: tuple[int, int] | None = None) -> str:
    """Make the directories (after a reboot emptied the runtime directory); the shared part
    is chowned to container root's host ids when given. Returns the shared part."""
    shared = shared_dir(name)
    os.makedirs(state_dir(name), mode=0o700, exist_ok=True)  # makedirs gives the mode to the last only
    _mkdir_private(shared)
    if owner is not None and not rootless():
        st = os.lstat(shared)
        if (st.st_uid, st.st_gid) != owner:
            os.chown(shared, *owner)
    return shared


def remove_state_dir(name: str) -> None:
    import shutil  # not at the top: it imports bz2 and lzma, which the hot path does not need

    shutil.rmtree(state_dir(name), ignore_errors=True)


def storage_key() -> str:
    """Which podman storage this process uses, as far as crossbox can tell cheaply: the
    state directories of all storages share one place, keyed by container name."""
    from .settings import current

    return current().storage_conf or ""


def recorded_storage(name: str) -> str:
    try:
        fd = os.open(os.path.join(state_dir(name), STORAGE_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return ""  # made before crossbox recorded it, or under the default storage
    try:
        return os.read(fd, 8192).decode("utf-8", errors="replace").rstrip("\n")
    finally:
        os.close(fd)


def record_id(name: str, container_id: str) -> None:
    """Which container the state directory belongs to (and in which storage)."""
    directory = state_dir(name)
    key = storage_key()
    if key:
        fd = os.open(os.path.join(directory, STORAGE_FILE),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key + "\n")
    _replace_private(directory, ID_FILE, container_id + "\n")


def _replace_private(directory: str, file_name: str, text: str) -> None:
    """Write a host-private file (0600) whole: a reader sees the old one or the new one."""
    tmp = os.path.join(directory, f".{file_name}.new")
    _unlink_if_present(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(directory, file_name))


CREATE_ARGS_FILE = "create.json"
INSPECTED_FILE = "inspected.json"  # the box's configuration as its last start's inspection gave it


def record_inspection(name: str, info: ContainerInfo) -> None:
    """What the inspection before a start found of the box's configuration (host-private), so
    that its next start can check the same from here instead of asking podman again."""
    from .tools.podman import config_to_json

    _replace_private(state_dir(name), INSPECTED_FILE, config_to_json(info))


def recorded_inspection(name: str, container_id: str) -> ContainerInfo | None:
    """The recorded configuration of the container with that id, if that is what is recorded."""
    from .tools.podman import config_from_json

    try:
        fd = os.open(os.path.join(state_dir(name), INSPECTED_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, encoding="utf-8") as f:
            info = config_from_json(f.read(1 << 20))
    except (OSError, ValueError):
        return None
    return info if info is not None and info.id == container_id else None


def record_create_args(name: str, args: list[str]) -> None:
    """The `podman create` arguments of the box (host-private): what a contiguous id map needs."""
    import json

    path = os.path.join(state_dir(name), CREATE_ARGS_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(args, f)


def recorded_create_args(name: str) -> list[str] | None:
    import json

    try:
        fd = os.open(os.path.join(state_dir(name), CREATE_ARGS_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, encoding="utf-8") as f:
            args = json.load(f)
    except (OSError, ValueError):
        return None
    return args if isinstance(args, list) and all(isinstance(a, str) for a in args) else None


def _split(info: ContainerInfo) -> bool:
    return len(info.uid_map) > 1 or len(info.gid_map) > 1


def make_contiguous(info: ContainerInfo) -> ContainerInfo:
    """podman 4.3's --userns=auto fills holes that removed containers of other sizes left and
    hands out a split map (0:X:1024, 1024:Y:64512), with which its overlay driver cannot
    mount the image at start. Before the first start, such a box is made again (it never ran:
    nothing is lost) with a contiguous range of its own."""
    from . import checks, log, owned
    from .errors import GuestFailed, recreate_hint
    from .signals import deferred
    from .tools import create_args, podman

    args = recorded_create_args(info.name)
    if args is None:
        raise GuestFailed(f"podman gave container {info.name} a split id map, which it cannot start with",
                          recreate_hint(info.name))
    used = podman.inspect_containers([c for c in podman.all_container_ids() if c != info.id])
    start = create_args.free_id_range([row for c in used for row in (*c.uid_map, *c.gid_map)],
                                      checks.subordinate_range("containers"))
    log.info("podman gave a split id map; making the box again with a contiguous one",
             name=info.name, uid_map=",".join(info.uid_map), start=start)
    with deferred():
        podman.remove_by_id(info.id)
        owned.forget_containers([info.id])
        with user_lock("create.lock"):
            created = podman.create(["create", *create_args.with_id_map(args, start)], info.name)
        record_id(info.name, created)
        owned.add_container(created, info.name)
    again = podman.inspect_container(created)
    if again is None:
        raise GuestFailed(f"container {info.name} could not be made again with a contiguous id map",
                          recreate_hint(info.name))
    return again


def prune(existing: dict[str, str]) -> list[str]:
    """Remove the state directories of containers that are gone (or not crossbox's): those
    whose name is not among ``existing`` (name -> id of crossbox containers) or whose
    recorded id differs. Only this storage's: a container of another podman storage
    (another CONTAINERS_STORAGE_CONF) is not in ``existing`` but is not gone either.
    Returns the names pruned."""
    try:
        names = os.listdir(base_dir())
    except OSError:
        return []
    pruned = []
    now = time.time()
    key = storage_key()
    for name in names:
        if recorded_storage(name) != key:
            continue
        recorded = recorded_id(name)
        if name in existing and recorded in (None, existing[name]):
            continue
        if is_ready(name):  # a running container under a new name (podman rename): keep
            continue
        if recorded is None:
            # No id yet: a create in progress (perhaps in another podman storage): only an old
            # one is a leftover.
            try:
                if now - os.stat(state_dir(name)).st_mtime < UNFINISHED_CREATE_SECONDS:
                    continue
            except OSError:
                continue
        remove_state_dir(name)
        pruned.append(name)
    return pruned


def ready_timeout() -> float:
    from .settings import current as settings

    return settings().ready_timeout


def start_lock(name: str, timeout: float) -> locks.locked:
    """One starter per container, for a `with` block; a second one waits, then finds it ready."""
    try:
        return locks.locked(os.path.join(state_dir(name), START_LOCK), timeout=timeout)
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
        _unlink_if_present(self.path)
        os.mkfifo(self.path, 0o600)
        if owner is not None and not rootless():
            os.chown(self.path, *owner)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.started = time.monotonic()

    def wait(self, timeout: float, exited_fd: int | None = None) -> ReadyReport | None:
        """The agent's report, or None on timeout. ``exited_fd`` becomes readable when the
        container has stopped (the agent died before it could say anything)."""
        import select

        deadline = self.started + timeout
        data = b""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        if exited_fd is not None:
            poller.register(exited_fd, select.POLLIN | select.POLLHUP)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            events = poller.poll(left * 1000)
            for fd, event in events:
                if fd == exited_fd:
                    if data or self._pending():
                        data += self._drain()
                        return self._report(data)
                    return ReadyReport(False, "the guest agent exited before it reported",
                                       time.monotonic() - self.started)
                if event & select.POLLIN:
                    chunk = os.read(self.fd, 4096)
                    data += chunk
                    if b"\n" in data or not chunk:
                        return self._report(data)
                elif event & select.POLLHUP:
                    return self._report(data)

    def _pending(self) -> bool:
        import select

        return bool(select.select([self.fd], [], [], 0)[0])

    def _drain(self) -> bytes:
        try:
            return os.read(self.fd, 4096)
        except OSError:
            return b""

    def _report(self, data: bytes) -> ReadyReport:
        line = data.decode(errors="replace").split("\n", 1)[0].strip()
        elapsed = time.monotonic() - self.started
        if line.startswith(READY_OK):
            return ReadyReport(True, line[len(READY_OK):].strip(), elapsed)
        if line.startswith(READY_ERROR):
            return ReadyReport(False, line[len(READY_ERROR):].strip(), elapsed)
        return ReadyReport(False, "the guest agent exited before it reported", elapsed)

    def close(self) -> None:
        try:  # noqa: SIM105 (no contextlib on the hot path)
            os.close(self.fd)
        except OSError:
            pass
        try:  # noqa: SIM105 (no contextlib on the hot path)
            os.unlink(self.path)
        except OSError:
            pass


# -- start ---------------------------------------------------------------------------------

def _owner(info: ContainerInfo) -> tuple[int, int] | None:
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


def missing_host_path(info: ContainerInfo) -> str | None:
    """A host path the container needs that is gone (a bind-mount source, or the interpreter
    its start command names inside one): it then cannot start, whatever podman says."""
    own = base_dir()
    for source in info.mounts:
        if source and not source.startswith(own) and not os.path.exists(source):
            return source
    for word in info.command:
        if ":" in word:  # a search path (--library-path): its directories may come and go
            continue
        for source, destination in info.mount_pairs:
            if source and word.startswith(destination.rstrip("/") + "/"):
                host = source + word[len(destination.rstrip("/")):]
                if not os.path.exists(host):
                    return host
    return None


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
    gone = missing_host_path(info)
    if gone:
        raise GuestFailed(
            f"container {info.name} needs {gone}, which no longer exists on the host "
            "(was the host's Python, qemu or crossbox upgraded?)",
            recreate_hint(info.name),
        )


def _usable(info: ContainerInfo) -> bool:
    from .errors import CrossboxError

    try:
        check_usable(info)
    except CrossboxError:
        return False
    return True


def ensure_ready(name: str, timeout: float | None = None) -> str:
    """Make sure the container runs and its agent is ready; its id."""
    ready = ready_id(name)
    if ready is not None:
        return ready
    from .errors import GuestFailed, container_not_found
    from .tools import podman

    timeout = ready_timeout() if timeout is None else timeout
    known = recorded_id(name)
    if known is None:
        # A box this host has no record of: inspect it before anything is made here for it.
        first = podman.inspect_container(name)
        if first is None:
            raise container_not_found(name)
        check_usable(first)
        os.makedirs(state_dir(name), mode=0o700, exist_ok=True)
        known = first.id
    # Inspected once, inside the lock (what another starter did is then in it): a box whose
    # state directory knows it saves the inspection before (a tenth of its cold start), and
    # one this host has started saves that one too.
    with start_lock(name, timeout):
        if is_ready(name):
            return recorded_id(name) or known
        # Started here before: its configuration (which podman cannot change) is checked from the
        # record, and podman starts it only if NAME is still that container and stopped; if it
        # started nothing, the inspection below decides (renamed, running, ...), as it does when
        # the record fails a check (whatever holds NAME now is then the question).
        recorded = recorded_inspection(name, known)
        if (recorded is not None and _usable(recorded)
                and _start_and_wait(name, recorded, timeout, only_if_stopped=True)):
            return recorded.id
        info = podman.inspect_container(name)
        if info is None:
            raise container_not_found(name)
        check_usable(info)
        if recorded_id(name) != info.id:
            record_id(name, info.id)
        if not info.running and info.state in ("created", "configured") and not rootless() and _split(info):
            info = make_contiguous(info)
        if info.running:
            # Started outside crossbox just now, or its agent is still setting up.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if is_ready(name):
                    return info.id
                time.sleep(0.05)
            raise GuestFailed(
                f"container {name} is running but its guest agent never reported ready",
                f"see `podman logs {name}`, or restart it with `podman stop {name}`",
            )
        _start_and_wait(name, info, timeout)
        try:
            record_inspection(name, info)
        except OSError as exc:  # the box is ready: the next start inspects it again, that is all
            from . import log

            log.debug("the box's configuration was not recorded", name=name, error=exc.strerror)
        return info.id


def _start_and_wait(name: str, info: ContainerInfo, timeout: float, only_if_stopped: bool = False) -> bool:
    """podman start, then the agent's report; whether podman started it (only_if_stopped: only
    if NAME is still the container info names, and stopped). A failure to start is GuestFailed."""
    from . import log, progress
    from .errors import GuestFailed, ToolError
    from .tools import podman

    waiter = ReadyWaiter(name, _owner(info))
    try:
        with progress.Spinner(f"Starting container {name}"):
            try:
                if not podman.start(name, only_id=info.id if only_if_stopped else None):
                    return False
            except ToolError as exc:
                raise GuestFailed(f"podman could not start container {name}: {exc.message}") from None
            # Most agents are ready within a second; past that, also watch for the
            # container stopping, so that an agent that died is reported at once.
            report = waiter.wait(min(FIRST_WAIT_SECONDS, timeout))
            if report is None and time.monotonic() - waiter.started < timeout:
                with podman.waiting_for_exit(info.id) as exited_fd:
                    report = waiter.wait(timeout, exited_fd)
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
    _unlink_if_present(os.path.join(state_dir(name), CREATE_ARGS_FILE))  # only a box never started needs it
    return True
