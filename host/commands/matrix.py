"""A matrix run: `crossbox run --rm -i IMAGE --arch arm64,ppc64le,s390x COMMAND`.

The one-shot run once per architecture, a few at once. Each row is a child
crossbox (`python -m crossbox.host -y run --rm -i IMAGE --arch ARCH -- COMMAND`),
so that a row is exactly the one-shot run of a single architecture; its stdin is
/dev/null, its stdout and stderr are pipes, and each line it writes comes out on
crossbox's stdout or stderr behind `ARCH | `. A table of the rows' statuses ends
the run, on stderr, so that stdout stays the commands' data.

Before any row runs, the images that are not local are asked for once, with their
total size, and pulled (the pull code of a single create). A row whose architecture
cannot be had (the index lacks it, no emulator) fails with the usual message and
the others run.

Signals: the rows run in sessions of their own (a terminal's Ctrl-C reaches crossbox
once); SIGINT or SIGTERM that reaches crossbox is passed to every running row, whose
one-shot run passes it on to its command (podman run's signal proxy, the agent);
the rows' output is read until they have ended, so none blocks on a full pipe. A
row that has not ended after the grace time is killed. The kernel stops the rows
when crossbox itself dies (PR_SET_PDEATHSIG), and a one-shot container is --rm.
"""

from __future__ import annotations

import io
import os
import selectors
import sys

from crossbox.shared.arch import Arch, UnknownArchError, parse_arch

from ..errors import CrossboxError, Exit, InvalidInput, UsageError

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Sequence
    from typing import BinaryIO

    from ..images import Target

MAX_ROWS_AT_ONCE = 3
SEPARATOR = " | "
LONGEST_LINE = 65536  # bytes: a longer line without a newline is passed on in pieces
READ_SIZE = 65536


# -- the pure parts ---------------------------------------------------------------------------

def is_matrix(arch: str | None) -> bool:
    """A comma in --arch asks for a matrix run (a single architecture keeps the one-shot run)."""
    return arch is not None and "," in arch


def check_matrix_options(*, rm: bool, image: str | None, container: str | None, distro: str | None,
                         release: str | None) -> None:
    """A list of architectures runs only as one-shot runs of an image."""
    if container or distro or release or not (rm and image):
        not_with = " and not with -c CONTAINER" if container else \
            " and not with --distro or --release" if distro or release else ""
        raise UsageError(f"a list of architectures in --arch runs only one-shot, with --rm -i IMAGE{not_with}",
                         "give one architecture, or --rm -i IMAGE for one run per architecture")


def split_arch_list(text: str) -> list[tuple[str, Arch]]:
    """``arm64,ppc64le,s390x`` -> each architecture as given (the row's label) and parsed."""
    rows: list[tuple[str, Arch]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise InvalidInput(f"--arch {text!r} has an empty item",
                               "separate the architectures with single commas, e.g. arm64,s390x")
        try:
            arch = parse_arch(item)
        except UnknownArchError as exc:
            raise InvalidInput(str(exc)) from None
        for label, seen in rows:
            if seen == arch:
                raise InvalidInput(f"--arch {text} names {arch.oci} twice ({label} and {item})",
                                   "name each architecture once")
        rows.append((item, arch))
    return rows


def prefix(label: str, width: int) -> bytes:
    return f"{label:<{width}}{SEPARATOR}".encode()


class LineSplitter:
    """Bytes as they arrive -> whole lines (each ending in a newline)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        data = self._pending + data
        lines = data.splitlines(keepends=True)
        self._pending = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        while len(self._pending) >= LONGEST_LINE:
            lines.append(self._pending[:LONGEST_LINE] + b"\n")
            self._pending = self._pending[LONGEST_LINE:]
        return lines

    def end(self) -> list[bytes]:
        """A last line without its newline gets one."""
        last, self._pending = self._pending, b""
        return [last + b"\n"] if last else []


def matrix_status(statuses: Sequence[int | None]) -> int:
    """0 when every row succeeded; otherwise the first failing status in the order given
    (None: a row that never ran)."""
    for status in statuses:
        if status:
            return status
    return 0


def result_text(status: int | None, interrupted: bool = False) -> str:
    if status is None:
        return "not run"
    if status == 0:
        return "ok"
    if interrupted and status in (Exit.INTERRUPTED, Exit.TERMINATED):
        return "interrupted"
    return "failed"


def summary_table(rows: Sequence[tuple[str, int | None, str]]) -> str:
    """The rows' (label, status, result) as a table: one line each, after a header."""
    head = ("ARCH", "STATUS", "RESULT")
    cells = [head, *((label, "-" if status is None else str(status), result) for label, status, result in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(2)]
    return "".join(f"{c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]}\n" for c in cells)


def jobs() -> int:
    """How many rows run at once: the CPUs crossbox may use, at most MAX_ROWS_AT_ONCE (each row
    is an emulator busy with the command)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_ROWS_AT_ONCE, cpus))


def row_argv(arch: str, image: str, command: Sequence[str], *, authfile: str | None,
             log_level: str, log_format: str) -> list[str]:
    """The child crossbox of one row: the one-shot run of that architecture. -y: the pulls
    were asked for (and made) before any row starts."""
    argv = [sys.executable, "-m", "crossbox.host", "--log-level", log_level, "--log-format", log_format,
            "-y", "run", "--rm", "--image", image, "--arch", arch]
    if authfile:
        argv += ["--authfile", authfile]
    return [*argv, "--", *command]


# -- the rows -----------------------------------------------------------------------------------

class Row:
    __slots__ = ("arch", "label", "proc", "splitters", "started", "status", "streams")

    def __init__(self, label: str, arch: Arch) -> None:
        self.label = label
        self.arch = arch
        self.status: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.streams: dict[int, BinaryIO] = {}  # open pipe -> where its lines go
        self.splitters: dict[int, LineSplitter] = {}
        self.started = 0.0


def row_state(row: Row, now: float) -> str:
    if row.status is not None:
        return "ok" if row.status == 0 else f"failed ({row.status})"
    if row.proc is None:
        return "waiting"
    return f"running {int(now - row.started)}s"


def status_line(rows: Sequence[Row], now: float, columns: int) -> str:
    """The live line on a terminal: each row's state, cut to the terminal's width."""
    text = "  ".join(f"{row.label}: {row_state(row, now)}" for row in rows)
    return text if len(text) < columns else text[:max(0, columns - 4)] + "..."


class Rows:
    """Runs the rows, at most ``jobs`` at once, and passes their lines on behind their labels."""

    def __init__(self, rows: Sequence[Row], argv_of: Callable[[Row], list[str]], *, jobs: int,
                 out: BinaryIO, err: BinaryIO, grace: float | None = None, live: bool = False) -> None:
        from ..tools.runner import STOP_GRACE_SECONDS

        self.rows = list(rows)
        self.argv_of = argv_of
        self.jobs = jobs
        self.out = out
        self.err = err
        self.grace = STOP_GRACE_SECONDS if grace is None else grace
        self.width = max((len(r.label) for r in self.rows), default=0)
        self.running: list[Row] = []
        self.out_broken = False
        self.live = live  # a status line at the bottom of the terminal (stderr)
        self.shown = False

    # the live status line
    def _hide(self) -> None:
        if self.shown:
            self.err.write(b"\r\033[K")
            self.err.flush()
            self.shown = False

    def _show(self) -> None:
        if not self.live:
            return
        import time

        try:
            columns = os.get_terminal_size(self.err.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            columns = 80
        self.err.write(b"\r\033[K" + status_line(self.rows, time.monotonic(), columns).encode())
        self.err.flush()
        self.shown = True

    # output
    def write(self, row: Row, sink: BinaryIO, lines: list[bytes]) -> None:
        if not lines or (sink is self.out and self.out_broken):
            return
        self._hide()
        head = prefix(row.label, self.width)
        try:
            sink.write(b"".join(head + line for line in lines))
            sink.flush()
        except BrokenPipeError:
            if sink is not self.out:
                raise
            self.out_broken = True  # the reader of stdout went away: stop the rows
            raise

    def say(self, row: Row, text: str) -> None:
        """crossbox's own line about a row, on stderr behind the row's label."""
        self.write(row, self.err, [text.encode() + b"\n"])

    # the loop
    def run(self, pending: list[Row]) -> None:
        self.selector = selectors.DefaultSelector()
        queue = list(pending)
        try:
            while queue or self.running:
                while queue and len(self.running) < self.jobs:
                    self._start(queue.pop(0))
                self._pump(0.2)
        except BaseException as exc:
            self._stop_all(exc)
            raise
        finally:
            self.selector.close()
            self._hide()

    def _start(self, row: Row) -> None:
        import time

        from ..tools.runner import DEVNULL, PIPE, start

        row.started = time.monotonic()
        try:
            proc = start(self.argv_of(row), stdin=DEVNULL, stdout=PIPE, stderr=PIPE, new_session=True,
                         pdeathsig=True, text=False, cwd=None)
        except CrossboxError as exc:
            self.say(row, exc.line())
            row.status = int(Exit.RUN_FAILED)
            return
        row.proc = proc
        for pipe, sink in ((proc.stdout, self.out), (proc.stderr, self.err)):
            assert pipe is not None
            fd = pipe.fileno()
            os.set_blocking(fd, False)
            row.streams[fd] = sink
            row.splitters[fd] = LineSplitter()
            self.selector.register(fd, selectors.EVENT_READ, row)
        self.running.append(row)

    def _read(self, row: Row, fd: int, *, drain: bool = False) -> None:
        """Pass on what the pipe holds (one read, so that a row that writes fast does not hold up
        the others; all of it with ``drain``); close it at its end."""
        while fd in row.streams:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return
            sink = row.streams[fd]
            if not data:
                self.selector.unregister(fd)
                del row.streams[fd]
                self.write(row, sink, row.splitters.pop(fd).end())
                return
            self.write(row, sink, row.splitters[fd].feed(data))
            if not drain:
                return

    def _close(self, row: Row) -> None:
        """After the row's process ended: what is left in its pipes, then close them (a process it
        left behind that holds them does not keep the run waiting)."""
        for fd in list(row.streams):
            self._read(row, fd, drain=True)
        for fd in list(row.streams):
            self.selector.unregister(fd)
            sink = row.streams.pop(fd)
            self.write(row, sink, row.splitters.pop(fd).end())
        assert row.proc is not None
        for pipe in (row.proc.stdout, row.proc.stderr):
            if pipe is not None:
                pipe.close()

    def _pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            self._read(key.data, key.fd)
        for row in list(self.running):
            assert row.proc is not None
            status = row.proc.poll()
            if status is None:
                continue
            self._close(row)
            row.status = 128 - status if status < 0 else status  # killed by a signal: 128 + its number
            self.running.remove(row)
        self._show()

    def _stop_all(self, exc: BaseException) -> None:
        """Pass the signal on to every running row and read their output until they have ended."""
        import contextlib
        import time

        from ..errors import Interrupted
        from ..signals import deferred
        from ..tools.runner import signal_for

        signum = signal_for(exc)
        with contextlib.suppress(Interrupted), deferred():  # a second Ctrl-C must not cut it short
            for row in self.running:
                assert row.proc is not None
                with contextlib.suppress(ProcessLookupError):
                    row.proc.send_signal(signum)
            deadline = time.monotonic() + self.grace
            while self.running and time.monotonic() < deadline:
                try:
                    self._pump(0.2)
                except BrokenPipeError:
                    self.out_broken = True
            for row in self.running:
                assert row.proc is not None
                row.proc.kill()
                row.proc.wait()
                with contextlib.suppress(BrokenPipeError):
                    self._close(row)
                row.status = 128 + 9
            self.running.clear()


# -- the verb -----------------------------------------------------------------------------------

def _prepare(rows: Sequence[Row], image: str, authfile: str | None, assume_yes: bool,
             say: Callable[[Row, str], None]) -> list[Row]:
    """Check each row's architecture and pull what is missing (asked once); the rows that can run.
    A row that cannot fails here, with the usual message."""
    from .. import pull
    from ..errors import Interrupted
    from ..prompt import confirm
    from .create import CreateRequest, host_emulator, resolve_target

    def fail(row: Row, exc: CrossboxError) -> None:
        if isinstance(exc, Interrupted):
            raise exc
        say(row, exc.line())
        row.status = int(Exit.RUN_FAILED)  # what the row's own run would give: run's 125

    targets: dict[str, Target] = {}
    missing: list[tuple[Row, int | None]] = []
    for row in rows:
        try:
            target = resolve_target(CreateRequest(arch=row.label, image=image))
            host_emulator(target)
            if pull.check_local(target) is None:
                missing.append((row, pull.remote_size(target, authfile)))
            targets[row.label] = target
        except CrossboxError as exc:
            fail(row, exc)
    if missing:
        known = [size for _, size in missing if size is not None]
        shown = pull.human_size(sum(known)) if known else "size unknown"
        if known and len(known) < len(missing):
            shown = f"at least {shown}"
        first = targets[missing[0][0].label]
        names = ", ".join(targets[row.label].arch.oci for row, _ in missing)
        confirm(f"Download {first.remote} for {names} ({shown} in all)?", assume_yes,
                what="download the images")
        for row, _ in missing:
            try:
                pull.ensure_image(targets[row.label], authfile=authfile, assume_yes=True)
            except CrossboxError as exc:
                fail(row, exc)
                del targets[row.label]
    return [row for row in rows if row.label in targets]


def run_matrix(image: str, arch_list: str, authfile: str | None, command: Sequence[str], *,
               assume_yes: bool, log_level: str, log_format: str) -> int:
    from .. import images, progress
    from .create import check_authfile

    check_authfile(authfile)
    images.parse_image(image)  # a malformed reference is one error, not one per row
    rows = [Row(label, arch) for label, arch in split_arch_list(arch_list)]
    sys.stdout.flush()
    sys.stderr.flush()
    out: BinaryIO = sys.stdout.buffer
    err: BinaryIO = sys.stderr.buffer
    runner = Rows(rows, lambda row: row_argv(row.label, image, command, authfile=authfile,
                                               log_level=log_level, log_format=log_format),
                  jobs=jobs(), out=out, err=err, live=progress.on_terminal())
    stopped: int | None = None  # the status of an interrupted run
    try:
        ready = _prepare(rows, image, authfile, assume_yes, runner.say)
        runner.run(ready)
    except BrokenPipeError:
        if not runner.out_broken:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # nothing more reaches the reader
        stopped = 128 + 13  # as a writer that SIGPIPE ended
    except (KeyboardInterrupt, CrossboxError) as exc:
        status = int(getattr(exc, "status", Exit.INTERRUPTED))
        if not any(row.proc is not None for row in rows) or status not in (Exit.INTERRUPTED, Exit.TERMINATED):
            raise  # before any row ran: one error, as a single run gives it
        stopped = status
    err.write(summary_table([(row.label, row.status, result_text(row.status, stopped is not None))
                             for row in rows]).encode())
    err.flush()
    if stopped is not None:
        return stopped
    return matrix_status([row.status for row in rows])
