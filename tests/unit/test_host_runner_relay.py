"""run_session()'s stderr relay: every byte passed on at once, podman's OCI text replaced.

The relay writes to a real pipe here; run_session() runs real short-lived children
(sh, python) inside a small Python program whose own stderr the test reads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from crossbox.host.tools import ocierror, runner

NOT_FOUND = (b'Error: runc: exec failed: unable to start container process: exec: "nosuch": executable file '
             b"not found in $PATH: OCI runtime attempted to invoke a command that was not found\n")
DENIED = (b'Error: runc: exec failed: unable to start container process: exec: "/bin/noexec": '
          b"permission denied: OCI permission denied\n")
SENTENCE = b"crossbox: nosuch: command not found in box\n"


def candidate(line: bytes) -> tuple[int, bytes] | None:
    return ocierror.candidate("nosuch", "box", line)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


def available(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def relay_all(chunks: list[bytes], status: int, pipe: tuple[int, int]) -> bytes:
    relay = runner.StderrRelay(candidate, out=pipe[1])
    for chunk in chunks:
        relay.feed(chunk)
    relay.finish(status)
    return available(pipe[0])


def test_output_is_passed_on_at_once_and_unchanged(pipe: tuple[int, int]) -> None:
    relay = runner.StderrRelay(candidate, out=pipe[1])
    steps = [(b"err", b"err"), (b"or: no newline yet", b"or: no newline yet"),
             (b"\nE", b"\n"),  # a line that may begin with "Error: " waits for its next bytes
             (b"rrand\n", b"Errand\n"), (b"\x00\xff binary \r\n", b"\x00\xff binary \r\n"),
             (b"Error", b"")]
    for chunk, written in steps:
        relay.feed(chunk)
        assert available(pipe[0]) == written
    relay.finish(0)
    assert available(pipe[0]) == b"Error"


def test_every_byte_arrives_in_order_whatever_the_chunks(pipe: tuple[int, int]) -> None:
    text = (b"line one\nError: a program's own error\nError: runc: but no OCI end\nmore "
            b"Error: mid-line\n\nErr\nE\nError:\n" + NOT_FOUND + b"after\n" + b"x" * 5000 + b"\n")
    whole = relay_all([text], 127, pipe)
    assert whole == text
    by_byte = relay_all([text[i:i + 1] for i in range(len(text))], 127, pipe)
    assert by_byte == text
    for cut in range(0, len(text), 7):
        assert relay_all([text[:cut], text[cut:]], 127, pipe) == text


def test_a_line_beginning_error_is_held_until_its_newline(pipe: tuple[int, int]) -> None:
    relay = runner.StderrRelay(candidate, out=pipe[1])
    relay.feed(b"before\nError: something")
    assert available(pipe[0]) == b"before\n"
    relay.feed(b" failed\n")
    assert available(pipe[0]) == b"Error: something failed\n"
    relay.finish(125)
    assert available(pipe[0]) == b""


@pytest.mark.parametrize(("text", "status"), [(NOT_FOUND, 127), (DENIED, 126)])
def test_the_oci_text_is_replaced_when_the_status_goes_with_it(pipe: tuple[int, int], text: bytes,
                                                                status: int) -> None:
    expected = SENTENCE if status == 127 else b"crossbox: nosuch: permission denied in box\n"
    assert relay_all([text], status, pipe) == expected
    assert relay_all([text[:20], text[20:60], text[60:]], status, pipe) == expected
    assert relay_all([b"earlier output\n" + text], status, pipe) == b"earlier output\n" + expected
    assert relay_all([text.rstrip(b"\n")], status, pipe) == expected  # at the end, without a newline


def test_the_oci_text_stays_when_the_status_does_not_go_with_it(pipe: tuple[int, int]) -> None:
    assert relay_all([NOT_FOUND], 0, pipe) == NOT_FOUND
    assert relay_all([NOT_FOUND], 126, pipe) == NOT_FOUND
    assert relay_all([DENIED], 127, pipe) == DENIED


def test_the_oci_text_stays_when_anything_comes_after_it(pipe: tuple[int, int]) -> None:
    assert relay_all([NOT_FOUND, b"more\n"], 127, pipe) == NOT_FOUND + b"more\n"
    assert relay_all([NOT_FOUND + b"m"], 127, pipe) == NOT_FOUND + b"m"
    assert relay_all([NOT_FOUND, b"Err"], 127, pipe) == NOT_FOUND + b"Err"
    assert relay_all([NOT_FOUND, NOT_FOUND], 127, pipe) == NOT_FOUND + SENTENCE


def test_a_very_long_error_line_is_not_held_for_ever(pipe: tuple[int, int],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "HOLD_LIMIT", 100)  # the pipe holds 64 KiB and nobody reads it
    relay = runner.StderrRelay(candidate, out=pipe[1])
    relay.feed(b"Error: " + b"x" * 60)
    relay.feed(b"x" * 60)
    assert available(pipe[0]) == b"Error: " + b"x" * 120
    relay.feed(b"Error: \n")  # not at a line start
    assert available(pipe[0]) == b"Error: \n"


def test_a_closed_stderr_drops_the_output_not_the_session(pipe: tuple[int, int]) -> None:
    relay = runner.StderrRelay(candidate, out=pipe[1])
    os.close(pipe[0])
    relay.feed(b"nobody reads this\n")  # EPIPE (SIGPIPE is ignored by Python)
    relay.feed(NOT_FOUND)
    relay.finish(127)
    assert relay.broken


# -- run_session() with real children ------------------------------------------------------------

SESSION = textwrap.dedent("""
    import os, sys
    from crossbox.host.tools import ocierror, runner
    signals = []
    status = runner.run_session(sys.argv[1:], signals.append, own_group=True,
                                stderr_filter=lambda line: ocierror.candidate("nosuch", "box", line))
    os.write(1, f"status={status} signals={signals}\\n".encode())
""")


def session(argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", SESSION, *argv], capture_output=True, timeout=timeout,
                          check=False)


def test_run_session_replaces_the_text_and_keeps_the_status() -> None:
    printf = "printf '%s' \"$1\" >&2; exit $2"
    done = session(["sh", "-c", printf, "sh", NOT_FOUND.decode(), "127"])
    assert done.stderr == SENTENCE
    assert done.stdout == b"status=127 signals=[]\n"
    done = session(["sh", "-c", printf, "sh", DENIED.decode(), "126"])
    assert done.stderr == b"crossbox: nosuch: permission denied in box\n"
    assert done.stdout == b"status=126 signals=[]\n"


def test_run_session_passes_a_programs_stderr_unchanged() -> None:
    done = session(["sh", "-c", "echo err >&2; echo out; printf 'Error: x\\n\\0\\377' >&2; exit 3"])
    assert done.stderr == b"err\nError: x\n\x00\xff"
    assert done.stdout == b"out\nstatus=3 signals=[]\n"


def test_run_session_does_not_wait_for_a_process_that_keeps_the_pipe_open(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"sleep 30 </dev/null >/dev/null & echo $! > {pidfile}; echo bye >&2; exit 4"
    started = time.monotonic()
    try:
        done = session(["sh", "-c", script])  # the sleep keeps the relay's pipe, as conmon could
        assert time.monotonic() - started < 10
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert done.stderr == b"bye\n"
    assert done.stdout == b"status=4 signals=[]\n"


def test_run_session_of_a_child_killed_by_a_signal() -> None:
    done = session(["sh", "-c", "echo x >&2; kill -KILL $$"])
    assert done.stderr == b"x\n"
    assert done.stdout == b"status=137 signals=[]\n"


def test_signals_still_reach_on_signal_while_the_relay_waits() -> None:
    child = "import sys, time; print('ready', file=sys.stderr, flush=True); time.sleep(1.5); sys.exit(7)"
    proc = subprocess.Popen([sys.executable, "-c", SESSION, sys.executable, "-c", child],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    assert proc.stderr.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert out == f"status=7 signals=[{int(signal.SIGTERM)}]\n".encode()
    assert err == b""


def session_on_a_terminal(argv: list[str]) -> tuple[bytes, bytes]:
    """The session program with its stderr on a pseudo-terminal (raw: bytes as written)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([sys.executable, "-c", SESSION, *argv], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every copy of the slave is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    stdout, _ = proc.communicate(timeout=20)
    return stdout, out


def test_on_a_terminal_the_child_writes_to_a_terminal_and_every_byte_arrives() -> None:
    child = ("import os; os.write(2, b'tty=%d\\n' % os.isatty(2)); "
             "os.write(2, b'a\\nb\\x00\\xff\\r\\n' + b'z' * 100000 + b'\\nlast')")
    stdout, err = session_on_a_terminal([sys.executable, "-c", child])
    assert stdout == b"status=0 signals=[]\n"
    assert err == b"tty=1\na\nb\x00\xff\r\n" + b"z" * 100000 + b"\nlast"


def test_on_a_terminal_the_text_is_replaced_too() -> None:
    stdout, err = session_on_a_terminal(["sh", "-c", "printf '%s' \"$1\" >&2; exit 127", "sh",
                                         NOT_FOUND.decode()])
    assert (stdout, err) == (b"status=127 signals=[]\n", SENTENCE)


def test_run_session_runs_the_program_found_on_a_relative_path(tmp_path: Path) -> None:
    """The program is looked up once, where crossbox runs; the child, which starts in /, execs
    what was found there (a PATH entry such as `bin` is relative to crossbox's directory)."""
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "fake-podman"
    tool.write_text("#!/bin/sh\necho \"ran in $(pwd)\" >&2\nexit 5\n")
    tool.chmod(0o755)
    done = subprocess.run([sys.executable, "-c", SESSION, "fake-podman"], capture_output=True, timeout=20,
                          check=False, cwd=str(tmp_path), env={**os.environ, "PATH": f"bin:{os.environ['PATH']}"})
    assert done.stderr == b"ran in /\n"
    assert done.stdout == b"status=5 signals=[]\n"
