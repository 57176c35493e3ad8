"""A command that cannot start in a box is one sentence, not the OCI runtime's text (issue 14):
`crossbox: nosuch: command not found in BOX` (127), `... permission denied in BOX` (126).
The command's own stderr passes through unchanged, with and without a terminal."""

from __future__ import annotations

import pytest
from bed.bed import Bed

CWD = "/tmp"  # shared with every box: no "starting in your home" notice on stderr


def make(bed: Bed, rootless: bool, box: str) -> None:
    made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], box], rootless=rootless)
    assert made.returncode == 0, made.stderr
    warm = bed.crossbox(["run", "-c", box, "true"], rootless=rootless, cwd=CWD)  # starts it; says once what it says
    assert warm.returncode == 0, warm.stderr


def test_without_a_terminal(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box)
    cases = [("nosuch", 127, "command not found"), ("/no/such/command", 127, "command not found"),
             ("/etc/passwd", 126, "permission denied"), ("/etc", 126, "permission denied")]
    for command, status, what in cases:
        ran = bed.crossbox(["run", "-c", box, command], rootless=rootless, cwd=CWD)
        assert (ran.returncode, ran.stderr, ran.stdout) == (status, f"crossbox: {command}: {what} in {box}\n", ""), \
            command

    own = bed.crossbox(["run", "-c", box, "sh", "-c", "echo err >&2; echo out; exit 3"], rootless=rootless, cwd=CWD)
    assert (own.returncode, own.stderr, own.stdout) == (3, "err\n", "out\n")
    # A program's own "Error: " line and status 127 are the program's: left alone.
    mine = bed.crossbox(["run", "-c", box, "sh", "-c", "echo 'Error: mine' >&2; exit 127"], rootless=rootless,
                        cwd=CWD)
    assert (mine.returncode, mine.stderr) == (127, "Error: mine\n")


@pytest.mark.parametrize(("command", "status", "what"), [("nosuch", 127, "command not found"),
                                                         ("/etc/passwd", 126, "permission denied")])
def test_on_a_terminal(bed: Bed, rootless: bool, box: str, command: str, status: int, what: str) -> None:
    make(bed, rootless, box)
    term = bed.terminal(["run", "-c", box, command], rootless=rootless, env={"TERM": "dumb"})
    try:
        assert term.wait() == status
    finally:
        term.close()
    assert f"crossbox: {command}: {what} in {box}\r\n" in term.text
    assert "OCI" not in term.text and "runc" not in term.text and "Error" not in term.text

    term = bed.terminal(["run", "-c", box, "sh", "-c", "echo err >&2; exit 3"], rootless=rootless,
                        env={"TERM": "dumb"})
    try:
        assert term.wait() == 3
    finally:
        term.close()
    assert "err\r\n" in term.text


def test_one_shot(bed: Bed, rootless: bool) -> None:
    ref = bed.images["bb-arm64"]
    ran = bed.crossbox(["-y", "run", "--rm", "-i", ref, "--arch", "arm64", "nosuch"], rootless=rootless, cwd=CWD)
    assert ran.returncode == 127, ran.stderr
    assert ran.stderr.endswith(f"crossbox: nosuch: command not found in {ref}\n"), ran.stderr
    assert "OCI" not in ran.stderr
