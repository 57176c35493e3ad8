"""crossbox.host.tools.runner: the one runner, with real child processes (sh, sleep, python).

The signal tests start a small Python program that uses spawn() and signal it as a
terminal or `kill` would: the child must see the same signal, be waited for, and the
program must end with the status of an interrupted crossbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from crossbox.host.errors import ToolError, ToolMissing
from crossbox.host.tools import runner


def test_run_captures_output_and_status() -> None:
    done = runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert done.argv == ("sh", "-c", "echo out; echo err >&2; exit 3")


def test_run_with_check_raises_a_tool_error_with_the_telling_line() -> None:
    with pytest.raises(ToolError) as err:
        runner.run(["sh", "-c", "echo 'Error: no such thing' >&2; exit 125"])
    assert err.value.returncode == 125
    assert err.value.message.endswith("Error: no such thing")


def test_a_missing_program_is_tool_missing_with_a_hint() -> None:
    with pytest.raises(ToolMissing) as err:
        runner.run(["crossbox-no-such-program"])
    assert err.value.tool == "crossbox-no-such-program"
    assert err.value.hint


def test_argv_must_be_strings() -> None:
    with pytest.raises(TypeError):
        runner.run(["echo", 1])  # type: ignore[list-item]


def test_spawn_waits_for_the_child_after_the_block() -> None:
    with runner.spawn(["sh", "-c", "sleep 0.2; exit 4"]) as proc:
        pass
    assert proc.returncode == 4


def test_spawn_terminates_the_child_when_the_block_fails() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError), runner.spawn(["sleep", "30"]) as proc:
        raise RuntimeError("boom")
    assert proc.returncode == -signal.SIGTERM
    assert time.monotonic() - started < 10


def test_spawn_kills_a_child_that_ignores_the_signal_after_the_grace_time() -> None:
    script = "trap '' TERM; sleep 30"
    with pytest.raises(RuntimeError), runner.spawn(["sh", "-c", script], grace=0.5) as proc:
        time.sleep(0.2)  # let the trap be set
        raise RuntimeError("boom")
    assert proc.returncode == -signal.SIGKILL


PROGRAM = textwrap.dedent("""
    import sys
    from crossbox.host import signals
    from crossbox.host.errors import Interrupted
    from crossbox.host.tools import runner
    signals.install()
    try:
        with runner.spawn([sys.executable, "-c", sys.argv[1]], new_session=True) as proc:
            print("started", flush=True)
            proc.wait()
    except Interrupted as exc:
        print(f"child={proc.returncode}", flush=True)
        sys.exit(int(exc.status))
""")
CHILD = textwrap.dedent("""
    import signal, sys, time
    def got(signum, frame):
        print(f"child got {signal.Signals(signum).name}", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGINT, got)
    signal.signal(signal.SIGTERM, got)
    time.sleep(30)
""")


@pytest.mark.parametrize(("signum", "status", "name"), [(signal.SIGINT, 130, "SIGINT"),
                                                       (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_to_crossbox_reaches_the_child_and_is_waited_for(signum: int, status: int, name: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, CHILD], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.3)  # the child's handlers are in place
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == status
    assert f"child got {name}" in out
    assert "child=0" in out


def test_pdeathsig_stops_the_child_when_crossbox_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    program = textwrap.dedent(f"""
        import time
        from crossbox.host.tools import runner
        with runner.spawn(["sh", "-c", "echo $$ > {pidfile}; exec sleep 60"], pdeathsig=True) as proc:
            time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", program])
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    parent.kill()  # SIGKILL: no handler, no clean-up of crossbox's own runs
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived a SIGKILLed parent")


def test_exec_replace_of_a_missing_program_is_tool_missing() -> None:
    with pytest.raises(ToolMissing):
        runner.exec_replace(["crossbox-no-such-program"])


def test_log_podman_gives_every_podman_command_podmans_log_level(capfd: pytest.CaptureFixture[str]) -> None:
    from crossbox.host.tools import runner

    try:
        runner.log_podman("warn")
        assert runner._check_argv(["podman", "ps"]) == ["podman", "--log-level=warn", "ps"]
        assert runner._check_argv(["skopeo", "inspect"]) == ["skopeo", "inspect"]
        done = runner.run(["podman", "--version"], check=False)
        assert done.argv[:2] == ("podman", "--log-level=warn") and done.returncode == 0
        runner.log_podman("debug")
        runner.run(["podman", "version"], check=False)
        assert "level=debug" in capfd.readouterr().err  # captured, then shown
    finally:
        runner.log_podman(None)
    assert runner._check_argv(["podman", "ps"]) == ["podman", "ps"]
