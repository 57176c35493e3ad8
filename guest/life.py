"""After set-up: stay as the container's init, or run the one-shot command under it.

As init the agent reaps orphans, keeps /etc/hosts following the host's, signals a
session's processes when the host asks (``control`` FIFO in the state directory:
`podman exec` passes no signals on), and exits 0 on SIGTERM. In one-shot mode it
stays PID 1 too: the command is its child, signals sent to the container are
passed on to it (QEMU as PID 1 would ignore them), and the agent exits with the
command's status.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading

from crossbox.shared.contract import CONTROL_FIFO, SESSION_VAR, GuestSpec

from . import log
from .users import choose_shell, supplementary_groups

INIT_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
FORWARDED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2}
REFRESH_SECONDS = 2.0
SI_KERNEL = 0x80  # si_code of a signal the kernel sent (a terminal's Ctrl-C), not kill(2)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .hostfiles import HostsFile


def block_init_signals() -> None:
    """Queue the signals an init cares about until it waits for them.

    PID 1 of a PID namespace ignores signals it has no handler for, so without
    this a `podman stop` during set-up would wait for its kill timeout.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, INIT_SIGNALS | FORWARDED)


def _reap() -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return out
        if pid == 0:
            return out
        out.append((pid, status))


# -- the host's requests: signal a session ------------------------------------------------------

def session_pids(token: str, proc: str = "/proc") -> list[int]:
    """The processes whose environment carries CROSSBOX_SESSION=token (one run/enter session)."""
    needle = f"{SESSION_VAR}={token}".encode()
    out = []
    for name in os.listdir(proc):
        if not name.isdigit() or name == "1":
            continue
        try:
            with open(f"{proc}/{name}/environ", "rb") as f:
                entries = f.read().split(b"\0")
        except OSError:
            continue
        if needle in entries:
            out.append(int(name))
    return out


def handle_request(line: str, proc: str = "/proc") -> list[int]:
    """``TOKEN SIGNUM``: send the signal to that session's processes; return them."""
    parts = line.split()
    if len(parts) != 2 or not parts[1].isdigit() or len(parts[0]) > 64:
        return []
    signum = int(parts[1])
    if signum not in {int(s) for s in FORWARDED}:
        return []
    pids = session_pids(parts[0], proc)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    log.debug("signalled a session", signal=signum, pids=pids)
    return pids


def _control_loop(state_dir: str, owner: tuple[int, int]) -> None:
    path = os.path.join(state_dir, CONTROL_FIFO)
    try:
        dir_fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(CONTROL_FIFO, dir_fd=dir_fd)
        os.mkfifo(CONTROL_FIFO, 0o600, dir_fd=dir_fd)
        # Rootless, the host's user is the container's user, not its root: theirs to write.
        os.chown(CONTROL_FIFO, *owner, dir_fd=dir_fd, follow_symlinks=False)
        # Read and write: the FIFO never reads end-of-file when a writer goes.
        fd = os.open(CONTROL_FIFO, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        log.warning("no control FIFO: sessions cannot be signalled", path=path, error=exc.strerror)
        return
    finally:
        os.close(dir_fd)
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            handle_request(line.decode(errors="replace"))
        pending = pending[-4096:]


def start_control(state_dir: str, owner: tuple[int, int]) -> None:
    if os.path.isdir(state_dir):
        threading.Thread(target=_control_loop, args=(state_dir, owner), daemon=True, name="control").start()


# -- init ----------------------------------------------------------------------------------------

def serve(hosts: HostsFile | None = None) -> int:
    """Reap orphans and follow the host's /etc/hosts until asked to stop; exit 0 on SIGTERM."""
    block_init_signals()
    while True:
        info = signal.sigtimedwait(INIT_SIGNALS, REFRESH_SECONDS)
        if info is None:
            if hosts is not None:
                try:
                    hosts.refresh()
                except Exception as exc:  # a passing problem must not end the container
                    log.warning("cannot follow the host's /etc/hosts", error=str(exc))
            continue
        if info.si_signo == signal.SIGCHLD:
            _reap()
            continue
        log.debug("stopping", signal=signal.Signals(info.si_signo).name)
        return 0


# -- one-shot ------------------------------------------------------------------------------------

def _exec_command(spec: GuestSpec, env: dict[str, str]) -> None:
    """In the child: become the user, in the working directory, and exec the command."""
    user = spec.user
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; the command must not
        signal.signal(signum, signal.SIG_DFL)
    try:
        if user.uid != 0:
            os.setgroups(supplementary_groups(user))
            os.setgid(user.gid)
            os.setuid(user.uid)
        for directory in (spec.workdir, user.home, "/"):
            if directory:
                with contextlib.suppress(OSError):
                    os.chdir(directory)
                    break
        if spec.workdir and os.getcwd() != spec.workdir:
            log.warning("working directory does not exist in the container", wanted=spec.workdir,
                        using=os.getcwd())
        command = list(spec.command)
        os.execvpe(command[0], command, env)
    except OSError as exc:
        # The sentences `crossbox run -c BOX` says for podman exec's (crossbox.host.tools.ocierror).
        command0 = spec.command[0]
        where = f" in {spec.image}" if spec.image else ""
        if exc.errno == errno.ENOENT:
            os.write(2, f"crossbox: {command0}: command not found{where}\n".encode())
            os._exit(127)
        if exc.errno == errno.EACCES:
            os.write(2, f"crossbox: {command0}: permission denied{where}\n".encode())
            os._exit(126)
        os.write(2, f"crossbox: {command0}: {exc.strerror}\n".encode())
        os._exit(126)
    except BaseException:
        os._exit(126)


def _status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def handoff(spec: GuestSpec, session_env: dict[str, str] | None = None) -> int:
    """Run the one-shot command as the user and pass signals on to it; its status is ours."""
    user = spec.user
    shell = choose_shell(user.shell)
    env = dict(os.environ)
    env.update(session_env or {})
    env.update(HOME=user.home, USER=user.name, LOGNAME=user.name, SHELL=shell)
    sys.stdout.flush()
    sys.stderr.flush()
    block_init_signals()
    child = os.fork()
    if child == 0:
        _exec_command(spec, env)
    waited = INIT_SIGNALS | FORWARDED
    while True:
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD:
            for pid, status in _reap():
                if pid == child:
                    return _status(status)
            continue
        # A terminal's Ctrl-C already reached the command (same process group): only
        # signals sent to the container (podman's signal proxy, podman kill) are passed on.
        if info.si_code != SI_KERNEL:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, info.si_signo)
