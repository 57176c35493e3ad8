"""The one runner: every external command crossbox starts goes through here.

- ``run()``: to completion, output captured, typed errors (``ToolError`` carries argv,
  status and stderr; a missing program is ``ToolMissing`` with an install hint).
- ``start()``: start one and hand it over (the caller stops and waits for it);
- ``spawn()``: a context manager for commands that stream (pulls). SIGINT or SIGTERM
  reaching crossbox is passed on to the child; any other exception terminates it; the
  child is always waited for. ``pdeathsig=True`` makes the kernel stop the child when
  crossbox itself dies, even by SIGKILL.
- ``run_session()``: `podman exec` for ``run`` and ``enter``: crossbox stays its parent to
  pass signals on (podman exec does not), and ends with its status; with a stderr filter,
  podman's stderr is relayed (``StderrRelay``) so that one line of it can be replaced;
- ``exec_replace()``: become the command (a one-shot ``podman run``, whose own signal proxy
  reaches the container's agent).

Every command is logged as ``+ argv`` at debug level; no shell is ever involved.
Light to import: subprocess and the error types are loaded when first needed, so the
hot path can exec through here.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import signal
    import subprocess
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, NoReturn

    from ..errors import ToolMissing
else:
    # signal's C half: the same functions and numbers, without the enum module the Python
    # half imports (with contextlib's, about 5 ms of every `crossbox run`, which comes here).
    import _signal as signal

WHY = {
    "podman": "to run containers",
    "skopeo": "to pull an image of a foreign architecture",
}
STOP_GRACE_SECONDS = 20.0
DEVNULL = -3  # subprocess.DEVNULL, without importing subprocess
PIPE = -1  # subprocess.PIPE


class Completed:
    __slots__ = ("argv", "returncode", "stderr", "stdout")

    def __init__(self, argv: tuple[str, ...], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"Completed({self.argv!r}, {self.returncode})"


_PODMAN_LOG_LEVEL: list[str] = []  # set by --log-podman: podman's own --log-level


def log_podman(level: str | None) -> None:
    """Every podman command from now on logs at podman's ``level`` (None: podman's default)."""
    _PODMAN_LOG_LEVEL[:] = [level] if level else []


def _check_argv(argv: Sequence[str]) -> list[str]:
    out = list(argv)
    for item in out:
        if not isinstance(item, str):
            raise TypeError(f"argv element {item!r} is not a string")
    if _PODMAN_LOG_LEVEL and out and out[0] == "podman":
        out.insert(1, f"--log-level={_PODMAN_LOG_LEVEL[0]}")
    return out


def _log(prefix: str, args: list[str]) -> None:
    from .. import log

    if log.enabled("debug"):
        import shlex

        log.debug(prefix + shlex.join(args))


def missing(tool: str, arch_oci: str | None = None) -> ToolMissing:
    """A tool not on PATH: what it is needed for, how to install it, and where to look next."""
    from ..errors import ToolMissing, doctor_hint
    from ..osrelease import package_install_hint, read_os_release

    hint = f"{package_install_hint(tool, read_os_release())}; {doctor_hint(arch_oci)}"
    return ToolMissing(tool, WHY.get(tool, ""), hint)


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    capture: bool = True,
    stdin: int | None = DEVNULL,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    new_session: bool = False,
) -> Completed:
    """Run to completion. new_session: a terminal's Ctrl-C reaches crossbox, not the tool."""
    import subprocess

    args = _check_argv(argv)
    _log("+ ", args)
    try:
        done = subprocess.run(
            args,
            stdin=stdin,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            start_new_session=new_session,
            cwd="/",  # a working directory that was deleted must not fail podman
            text=True,
            errors="replace",
            check=False,
        )
    except FileNotFoundError:
        raise missing(args[0]) from None
    result = Completed(tuple(args), done.returncode, done.stdout or "", done.stderr or "")
    if _PODMAN_LOG_LEVEL and args[0] == "podman" and result.stderr:
        import sys

        sys.stderr.write(result.stderr)  # --log-podman: what podman said, captured or not
    if check and done.returncode != 0:
        from ..errors import ToolError

        raise ToolError(args, done.returncode, result.stderr)
    return result


def _die_with_parent() -> Callable[[], None]:
    """A preexec function: the child gets SIGTERM when crossbox dies (PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # crossbox died before the call: go now
            os._exit(1)

    return preexec


def signal_for(exc: BaseException) -> int:
    """The signal to pass on: the one that reached crossbox, else SIGTERM."""
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    status = getattr(exc, "status", None)
    if status == 130:
        return signal.SIGINT
    return signal.SIGTERM


def start(argv: Sequence[str], *, stdin: int | None = DEVNULL, stdout: int | None = None,
          stderr: int | None = None, env: Mapping[str, str] | None = None, new_session: bool = False,
          pdeathsig: bool = False, text: bool = True, cwd: str | None = "/") -> subprocess.Popen[Any]:
    """Start a command and return it; the caller stops and waits for it (``spawn()`` does both
    for one command; the rows of a matrix run are several at once). ``cwd=None``: crossbox's own
    current directory, for a child crossbox that decides from it where its command starts."""
    import subprocess

    args = _check_argv(argv)
    _log("+ ", args)
    try:
        return subprocess.Popen(
            args, stdin=stdin, stdout=stdout, stderr=stderr,
            env=dict(env) if env is not None else None, start_new_session=new_session, cwd=cwd,
            # The preexec function only calls prctl(2) and getppid(2) through a handle made
            # before the fork: nothing in it can wait on a lock another thread held.
            preexec_fn=_die_with_parent() if pdeathsig else None,  # noqa: PLW1509
            text=text, errors="replace" if text else None,
        )
    except FileNotFoundError:
        raise missing(args[0]) from None


class spawn:  # used as a function: `with spawn(argv) as proc:`
    """Start a command for the block; stop it if the block fails; always wait for it.

    A class, not a contextlib generator: contextlib and what it imports cost the hot path,
    which imports this module, a few milliseconds."""

    def __init__(self, argv: Sequence[str], *, stdin: int | None = DEVNULL, stdout: int | None = None,
                 stderr: int | None = None, env: Mapping[str, str] | None = None,
                 new_session: bool = False, pdeathsig: bool = False,
                 grace: float = STOP_GRACE_SECONDS) -> None:
        self.proc: subprocess.Popen[str] = start(argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env,
                                                 new_session=new_session, pdeathsig=pdeathsig)
        self.grace = grace

    def __enter__(self) -> subprocess.Popen[str]:
        return self.proc

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        proc = self.proc
        try:
            if exc is not None:
                self._stop(proc, exc)
        finally:
            if proc.poll() is None:
                proc.wait()

    def _stop(self, proc: subprocess.Popen[str], exc: BaseException) -> None:
        import contextlib
        import subprocess

        from ..signals import deferred

        with deferred():  # a second Ctrl-C must not cut the stop short
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal_for(exc))
            try:
                proc.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def which(program: str) -> str | None:
    """shutil.which, without importing shutil (the hot path calls this)."""
    if "/" in program:
        return program if os.access(program, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", program)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


SESSION_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
ERROR_PREFIX = b"Error: "
HOLD_LIMIT = 65536  # an "Error: " line longer than this, still without its newline, is let through
READ_SIZE = 65536
DRAIN_WAIT_MS = 50  # after the child's exit: how long the pipe may stay silent before the end


class StderrRelay:
    """podman's stderr on its way to crossbox's: every byte at once, as it came, except a line
    that podman's own error text may begin (``Error: `` at the start of a line).

    Such a line is held until its newline (or the end), then offered to ``candidate``; a line it
    accepts (podman's text for a command that cannot start: crossbox.host.tools.ocierror) is held
    until podman exits, and replaced only when podman's status is the one it goes with and nothing
    came after it. Anything else is written as it was. Writes go straight to the descriptor
    (os.write, no buffering); a closed or broken stderr drops what follows, never the child.
    """

    __slots__ = ("broken", "candidate", "held", "line_start", "out", "pending")

    def __init__(self, candidate: Callable[[bytes], tuple[int, bytes] | None], out: int = 2) -> None:
        self.candidate = candidate
        self.out = out
        self.held = b""  # the start of a line that begins, or may begin, with ERROR_PREFIX
        self.line_start = True
        self.pending: tuple[int, bytes, bytes] | None = None  # (status, replacement, original)
        self.broken = False

    def feed(self, chunk: bytes) -> None:
        data = self.held + chunk if self.held else chunk
        self.held = b""
        start = done = 0  # data[done:start] is passed on as it is
        while start < len(data):
            if self.line_start and ERROR_PREFIX.startswith(data[start:start + len(ERROR_PREFIX)]):
                self._emit(data[done:start])
                end = data.find(b"\n", start) + 1
                if end == 0:
                    rest = data[start:]
                    if len(rest) <= HOLD_LIMIT:
                        self.held = rest
                        return
                    self._emit(rest)
                    self.line_start = False
                    return
                self._line(data[start:end])
                start = done = end
                continue
            end = data.find(b"\n", start) + 1
            if end == 0:
                self.line_start = False
                break
            start = end
            self.line_start = True
        self._emit(data[done:])

    def finish(self, status: int) -> None:
        """The child has exited with ``status``: say what is still held."""
        held, self.held = self.held, b""
        if held:
            self._line(held)
        if self.pending is not None and self.pending[0] == status:
            self._write(self.pending[1])
            self.pending = None
        self._flush()

    def _line(self, line: bytes) -> None:
        found = self.candidate(line) if line.startswith(ERROR_PREFIX) else None
        if found is None:
            self._emit(line)
        else:
            self._flush()  # an earlier candidate was not podman's last word
            self.pending = (found[0], found[1], line)

    def _emit(self, data: bytes) -> None:
        if data:
            self._flush()
            self._write(data)

    def _flush(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._write(pending[2])

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.broken:
            try:
                view = view[os.write(self.out, view):]
            except BlockingIOError:  # a descriptor someone made non-blocking: wait until it takes more
                import select

                select.select([], [self.out], [], 1.0)
            except OSError:
                self.broken = True


def _wait_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _stderr_channel() -> tuple[int, int]:
    """(read end, write end) for the session child's stderr.

    A pipe; but when crossbox's own stderr is a terminal, a pseudo-terminal in raw mode (no
    translation: what podman writes is what crossbox reads), so that podman writes its own
    messages as it does on a terminal (logrus's short form, ``WARN[0000] ...``, not
    ``time="..." level=warning msg="..."``). Both ends are closed on exec.
    """
    if os.isatty(2):
        try:
            import tty

            master, slave = os.openpty()
            try:
                tty.setraw(slave)
            except BaseException:
                os.close(master)
                os.close(slave)
                raise
            return master, slave
        except OSError:
            pass
    return os.pipe()


def _read(fd: int) -> bytes:
    """One read; a pseudo-terminal whose other side is closed (EIO) is at its end."""
    try:
        return os.read(fd, READ_SIZE)
    except OSError as exc:
        import errno

        if exc.errno == errno.EIO:
            return b""
        raise


def _relay_until_exit(pid: int, fd: int, relay: StderrRelay) -> int:
    """Pass the child's stderr on until the child has exited; return its status.

    The end is the child's exit (a pidfd), not the pipe's: a process that inherited the pipe's
    write end (conmon, a daemon) cannot keep crossbox waiting. After the exit, what is already
    in the pipe is read, until its end or DRAIN_WAIT_MS of silence. poll(2) is retried after
    each signal (PEP 475), whose handler has passed it on. The child is waited for whatever
    happens here: a session must never end early, nor be started again by a caller's retry.
    """
    try:
        _pump(pid, fd, relay)
    except Exception:  # a failure of the relay must not lose the child
        pass
    finally:
        os.close(fd)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 125
    result = _wait_status(status)
    try:  # noqa: SIM105 (no contextlib on the hot path)
        relay.finish(result)
    except Exception:  # the child's status stands whatever the relay does
        pass
    return result


def _pump(pid: int, fd: int, relay: StderrRelay) -> None:
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # no pidfd (an old kernel, a seccomp filter): the pipe's end, then the exit
        pidfd = -1
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    reading = True
    try:
        while reading or pidfd >= 0:
            events = poller.poll()
            if pidfd >= 0 and any(ready == pidfd for ready, _ in events):
                break
            if reading and any(ready == fd for ready, _ in events):
                chunk = _read(fd)
                if chunk:
                    relay.feed(chunk)
                else:
                    reading = False
                    poller.unregister(fd)
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    if reading:  # what the child left in the pipe (at most 16 MiB), not a later writer's stream
        drain = select.poll()
        drain.register(fd, select.POLLIN)
        for _ in range(256):
            if not drain.poll(DRAIN_WAIT_MS):  # a pty's last bytes may be a moment behind
                break
            chunk = _read(fd)
            if not chunk:
                break
            relay.feed(chunk)


def run_session(argv: Sequence[str], on_signal: Callable[[int], None], *, own_group: bool,
                stderr_filter: Callable[[bytes], tuple[int, bytes] | None] | None = None) -> int:
    """Run an interactive command (`podman exec`) as crossbox's child and return its status.

    SIGINT, SIGTERM, SIGHUP and SIGQUIT that reach crossbox are handed to ``on_signal``
    (which asks the container to signal the session's processes: podman exec passes no
    signal on); the child is waited for whatever happens. ``own_group``: the child gets a
    process group of its own, so that a terminal's Ctrl-C reaches crossbox once, not both.
    ``stderr_filter``: the child's stderr goes through a pipe (a raw pseudo-terminal when
    crossbox's stderr is a terminal) and a ``StderrRelay`` with this candidate function
    (podman's text for a command that cannot start, replaced).
    """
    args = _check_argv(argv)
    program = which(args[0])
    if program is None:
        raise missing(args[0])
    program = os.path.abspath(program)  # PATH may name a relative directory; the child runs in /
    _log("session ", args)
    pipe = None
    if stderr_filter is not None:
        try:
            os.fstat(2)
        except OSError:  # no stderr at all: nothing to say anything on
            stderr_filter = None
        else:
            pipe = _stderr_channel()
    pid = os.fork()
    if pid == 0:  # the child: nothing here may raise into crossbox's code
        try:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python ignores it; podman must not
            os.chdir("/")  # podman needs none (--workdir says where), and it may have been deleted
            if own_group:
                os.setpgid(0, 0)
            if pipe is not None:
                os.dup2(pipe[1], 2)  # the copy is inherited; the pipe's own descriptors are not
            os.execv(program, args)  # found above: os.execvp would search PATH again, importing warnings
        finally:
            os._exit(125)

    def forward(signum: int, frame: object) -> None:
        try:  # noqa: SIM105 (no contextlib on the hot path)
            on_signal(signum)
        except Exception:  # a signal must never end crossbox before its child
            pass

    for signum in SESSION_SIGNALS:
        signal.signal(signum, forward)
    if pipe is not None and stderr_filter is not None:
        os.close(pipe[1])
        return _relay_until_exit(pid, pipe[0], StderrRelay(stderr_filter))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 125
    return _wait_status(status)


def exec_replace(argv: Sequence[str], env: Mapping[str, str] | None = None) -> NoReturn:
    """Become the command."""
    args = _check_argv(argv)
    _log("exec ", args)
    try:
        if env is None:
            os.execvp(args[0], args)
        else:
            os.execvpe(args[0], args, dict(env))
    except FileNotFoundError:
        raise missing(args[0]) from None
