"""The session side of the agent: the login environment worked out once, the session
environment files, and signals for a session's processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crossbox.guest import life, loginenv
from crossbox.shared import sessionenv
from crossbox.shared.contract import SESSION_VAR, User

ALICE = User(name="alice", uid=os.getuid(), gid=os.getgid(), home="/tmp", shell="/bin/sh")


# --- sessionenv: what the agent writes and the host reads --------------------------------------

def test_encode_decode_round_trips_values_with_newlines_and_equals() -> None:
    env = {"PATH": "/a:/b", "MULTI": "one\ntwo", "EQ": "a=b=c", "EMPTY": ""}
    assert sessionenv.decode(sessionenv.encode(env)) == env


@pytest.mark.parametrize("bad", [b"1BAD=x\0", b"BAD NAME=x\0", b"=x\0", b"NOEQUALS\0"])
def test_decode_drops_what_is_no_variable(bad: bytes) -> None:
    assert sessionenv.decode(bad + b"GOOD=1\0") == {"GOOD": "1"}


def test_decode_reads_at_most_the_limit() -> None:
    big = b"A=" + b"x" * (sessionenv.MAX_BYTES * 2) + b"\0"
    assert len(sessionenv.decode(big).get("A", "")) < sessionenv.MAX_BYTES


def test_parse_env_output_of_plain_env_keeps_multiline_values() -> None:
    text = "HOME=/home/a\nPS=line1\nline2\nPATH=/bin\n"
    assert sessionenv.parse_env_output(text) == {"HOME": "/home/a", "PS": "line1\nline2", "PATH": "/bin"}


@pytest.mark.parametrize(("name", "normal"), [("en_US.UTF-8", "en_US.utf8"), ("en_US.utf8", "en_US.utf8"),
                                              ("de_DE.ISO-8859-1@euro", "de_DE.iso88591@euro"), ("C", "C")])
def test_locale_names_compare_as_glibc_does(name: str, normal: str) -> None:
    assert sessionenv.normalize_locale(name) == normal


def test_read_file_refuses_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"A=1\0")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert sessionenv.read_file(str(tmp_path / "link")) is None
    assert sessionenv.read_file(str(tmp_path / "real")) == b"A=1\0"


# --- loginenv -----------------------------------------------------------------------------------

def test_the_login_shell_is_run_once_and_what_it_set_is_kept(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text("export EDITOR=vim\nexport PATH=\"$HOME/bin:$PATH\"\n")
    user = User(name="alice", uid=os.getuid(), gid=os.getgid(), home=str(home), shell="/bin/sh")
    monkeypatch.setattr(loginenv, "supplementary_groups", lambda user: [os.getgid()])
    locales, changed = loginenv.run_login_shell(user, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert changed["EDITOR"] == "vim"
    assert changed["PATH"].startswith(f"{home}/bin:")
    assert "LANG" not in changed  # only inherited: not the login shell's
    assert "HOME" not in changed
    assert locales is None or "C" in locales or "POSIX" in locales


def test_output_without_the_mark_gives_nothing() -> None:
    assert loginenv.parse_output("garbage") == (None, {})


def test_write_puts_held_and_login_variables_and_locales_in_the_state_dir(tmp_path: Path) -> None:
    loginenv.write({"LD_PRELOAD": "/usr/lib/libjemalloc.so"}, {"EDITOR": "vim"}, ["C", "C.utf8"],
                   state_dir=str(tmp_path))
    data = (tmp_path / sessionenv.SESSION_ENV).read_bytes()
    assert sessionenv.decode(data) == {"LD_PRELOAD": "/usr/lib/libjemalloc.so", "EDITOR": "vim"}
    assert (tmp_path / sessionenv.LOCALES).read_text() == "C\nC.utf8\n"
    loginenv.write({}, {}, None, state_dir=str(tmp_path))
    assert not (tmp_path / sessionenv.LOCALES).exists()


# --- life: signals for a session ----------------------------------------------------------------

def test_a_request_signals_exactly_the_sessions_processes() -> None:
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            env={**os.environ, SESSION_VAR: "a1b2"})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             env={**os.environ, SESSION_VAR: "ffff"})
    try:
        time.sleep(0.2)
        pids = life.handle_request(f"a1b2 {int(signal.SIGTERM)}")
        assert pids == [mine.pid]
        assert mine.wait(10) == -signal.SIGTERM
        assert other.poll() is None
    finally:
        for p in (mine, other):
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.parametrize("line", ["a1b2 9", "a1b2 x", "just-one", f"{'a' * 65} 2", ""])
def test_requests_out_of_the_protocol_signal_nothing(line: str) -> None:
    assert life.handle_request(line) == []


def test_exit_status_of_a_signalled_command_is_128_plus_the_signal() -> None:
    assert life._status(signal.SIGINT) == 130  # a raw wait status: killed by signal 2
    assert life._status(7 << 8) == 7


# --- the one-shot command that cannot start ----------------------------------------------------

@pytest.mark.parametrize(("command", "image", "status", "said"), [
    ("crossbox-no-such-command", "127.0.0.1:5000/bb:arm64", 127,
     b"crossbox: crossbox-no-such-command: command not found in 127.0.0.1:5000/bb:arm64\n"),
    ("/etc/passwd", "127.0.0.1:5000/bb:arm64", 126,
     b"crossbox: /etc/passwd: permission denied in 127.0.0.1:5000/bb:arm64\n"),
    ("crossbox-no-such-command", "", 127, b"crossbox: crossbox-no-such-command: command not found\n"),
])
def test_a_oneshot_command_that_cannot_start_is_one_sentence(command: str, image: str, status: int,
                                                            said: bytes) -> None:
    """The same sentences as `crossbox run -c BOX` says (crossbox.host.tools.ocierror)."""
    from crossbox.shared.contract import MODE_ONESHOT, GuestSpec

    spec = GuestSpec(mode=MODE_ONESHOT, container="crossbox-run-1234", arch="x86_64", emulator=None,
                     user=ALICE, workdir="/tmp", command=(command,), image=image)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(w, 2)
            life._exec_command(spec, {"PATH": "/usr/bin:/bin"})
        finally:
            os._exit(99)
    os.close(w)
    _, wait_status = os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as f:
        assert f.read() == said
    assert os.waitstatus_to_exitcode(wait_status) == status
