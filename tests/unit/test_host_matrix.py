"""The matrix run (`run --rm -i IMAGE --arch A,B,C COMMAND`): its pure parts, and the rows' loop
on plain `sh` children instead of crossbox ones (no podman)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from crossbox.host import cli
from crossbox.host.commands import matrix
from crossbox.host.errors import InvalidInput, UsageError

# -- the list of architectures ---------------------------------------------------------------


def test_a_comma_asks_for_a_matrix_and_a_single_architecture_does_not() -> None:
    assert matrix.is_matrix("arm64,s390x")
    assert not matrix.is_matrix("arm64")
    assert not matrix.is_matrix(None)


def test_the_list_keeps_the_spellings_given_in_their_order() -> None:
    rows = matrix.split_arch_list("aarch64, ppc64el ,s390x")
    assert [label for label, _ in rows] == ["aarch64", "ppc64el", "s390x"]
    assert [arch.oci for _, arch in rows] == ["arm64", "ppc64le", "s390x"]


@pytest.mark.parametrize("text", ["arm64,", ",arm64", "arm64,,s390x"])
def test_an_empty_item_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="empty item"):
        matrix.split_arch_list(text)


def test_an_unknown_architecture_in_the_list_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="'vax' is not a supported architecture"):
        matrix.split_arch_list("arm64,vax")


def test_one_architecture_named_twice_in_two_spellings_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"names arm64 twice \(arm64 and aarch64\)"):
        matrix.split_arch_list("arm64,s390x,aarch64")


# -- which options go with a list -----------------------------------------------------------------

def test_a_list_goes_with_rm_and_an_image() -> None:
    matrix.check_matrix_options(rm=True, image="quay.io/a/b:1", container=None, distro=None, release=None)


@pytest.mark.parametrize("options, says", [
    ({"rm": False, "image": None, "container": "box"}, "not with -c CONTAINER"),
    ({"rm": True, "image": "quay.io/a/b:1", "container": "box"}, "not with -c CONTAINER"),
    ({"rm": False, "image": None, "distro": "fedora"}, "not with --distro or --release"),
    ({"rm": False, "image": None}, "with --rm -i IMAGE"),
    ({"rm": True, "image": None}, "with --rm -i IMAGE"),
])
def test_a_list_without_a_oneshot_image_is_a_usage_error(options: dict[str, object], says: str) -> None:
    full: dict[str, object] = {"container": None, "distro": None, "release": None, **options}
    with pytest.raises(UsageError, match=says):
        matrix.check_matrix_options(**full)  # type: ignore[arg-type]


def test_a_list_with_a_container_exits_2_with_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "-c", "box", "--arch", "arm64,s390x", "uname", "-m"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("crossbox: error: a list of architectures in --arch runs only one-shot")
    assert "-c CONTAINER" in err


def test_a_list_without_rm_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--arch", "arm64,s390x", "uname", "-m"]) == 2


def test_a_bad_list_in_a_oneshot_run_is_125_as_other_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--rm", "-i", "quay.io/a/b:1", "--arch", "arm64,vax", "true"]) == 125
    assert "'vax' is not a supported architecture" in capsys.readouterr().err


# -- lines, table, status ----------------------------------------------------------------------------

def test_the_prefix_pads_the_label_to_the_longest() -> None:
    assert matrix.prefix("arm64", 7) == b"arm64   | "
    assert matrix.prefix("ppc64le", 7) == b"ppc64le | "


def test_lines_are_split_where_they_end_not_where_reads_end() -> None:
    s = matrix.LineSplitter()
    assert s.feed(b"one\ntw") == [b"one\n"]
    assert s.feed(b"o\nthr") == [b"two\n"]
    assert s.feed(b"ee") == []
    assert s.end() == [b"three\n"]
    assert s.end() == []


def test_a_line_longer_than_the_limit_is_passed_on_in_pieces() -> None:
    s = matrix.LineSplitter()
    lines = s.feed(b"x" * (matrix.LONGEST_LINE + 10))
    assert lines == [b"x" * matrix.LONGEST_LINE + b"\n"]
    assert s.end() == [b"x" * 10 + b"\n"]


def test_crlf_and_empty_lines_are_kept() -> None:
    s = matrix.LineSplitter()
    assert s.feed(b"a\r\n\nb\n") == [b"a\r\n", b"\n", b"b\n"]


@pytest.mark.parametrize("statuses, expected", [
    ([0, 0, 0], 0),
    ([0, 3, 125], 3),
    ([125, 3, 0], 125),
    ([0, None, 0], 0),
    ([None, 1], 1),
    ([], 0),
])
def test_the_status_is_0_only_when_all_succeeded_else_the_first_failing_in_order(
        statuses: list[int | None], expected: int) -> None:
    assert matrix.matrix_status(statuses) == expected


def test_the_summary_table_lines_up_and_names_each_result() -> None:
    rows = [("arm64", 0, "ok"), ("ppc64le", 125, "failed"), ("s390x", None, "not run")]
    assert matrix.summary_table(rows) == textwrap.dedent("""\
        ARCH     STATUS  RESULT
        arm64    0       ok
        ppc64le  125     failed
        s390x    -       not run
        """)


def test_result_words() -> None:
    assert matrix.result_text(0) == "ok"
    assert matrix.result_text(1) == "failed"
    assert matrix.result_text(None) == "not run"
    assert matrix.result_text(130, interrupted=True) == "interrupted"
    assert matrix.result_text(130) == "failed"


def test_at_most_three_rows_run_at_once_and_at_least_one() -> None:
    assert 1 <= matrix.jobs() <= matrix.MAX_ROWS_AT_ONCE == 3


def test_a_row_is_the_oneshot_run_of_its_architecture_with_the_command_after_a_double_dash() -> None:
    argv = matrix.row_argv("arm64", "quay.io/a/b:1", ["-x", "y"], authfile="/a.json", log_level="info",
                           log_format="json")
    assert argv == [sys.executable, "-m", "crossbox.host", "--log-level", "info", "--log-format", "json",
                    "-y", "run", "--rm", "--image", "quay.io/a/b:1", "--arch", "arm64",
                    "--authfile", "/a.json", "--", "-x", "y"]


# -- the rows' loop, on sh --------------------------------------------------------------------------

def _rows(scripts: dict[str, str], jobs: int = 2, grace: float = 5.0) -> tuple[matrix.Rows, io.BytesIO, io.BytesIO]:
    from crossbox.shared.arch import parse_arch

    rows = [matrix.Row(label, parse_arch(label)) for label in scripts]
    out, err = io.BytesIO(), io.BytesIO()
    runner = matrix.Rows(rows, lambda row: ["sh", "-c", scripts[row.label]], jobs=jobs, out=out, err=err,
                         grace=grace)
    return runner, out, err


def test_each_rows_lines_come_out_prefixed_on_its_own_stream_with_its_status() -> None:
    runner, out, err = _rows({
        "arm64": "echo one; echo warn >&2; echo two",
        "ppc64le": "printf 'no newline'; exit 3",
        "s390x": "echo s; exit 0",
    })
    runner.run(runner.rows)
    assert sorted(out.getvalue().splitlines()) == sorted(
        [b"arm64   | one", b"arm64   | two", b"ppc64le | no newline", b"s390x   | s"])
    assert err.getvalue() == b"arm64   | warn\n"
    assert [r.status for r in runner.rows] == [0, 3, 0]
    lines = out.getvalue().splitlines()
    assert lines.index(b"arm64   | one") < lines.index(b"arm64   | two")


def test_no_more_rows_than_jobs_run_at_once(tmp_path: object) -> None:
    script = "n=$(ls {d} | wc -l); touch {d}/$$; echo $n; sleep 0.3; rm {d}/$$"
    d = str(tmp_path)
    runner, out, _ = _rows({a: script.format(d=d) for a in ("arm64", "ppc64le", "s390x", "riscv64")}, jobs=2)
    runner.run(runner.rows)
    seen = [int(line.split(b"| ")[1]) for line in out.getvalue().splitlines()]
    assert len(seen) == 4 and max(seen) <= 1


def test_a_row_that_cannot_start_fails_with_125_and_the_others_run() -> None:
    from crossbox.shared.arch import parse_arch

    rows = [matrix.Row("arm64", parse_arch("arm64")), matrix.Row("s390x", parse_arch("s390x"))]
    out, err = io.BytesIO(), io.BytesIO()
    runner = matrix.Rows(rows, lambda row: ["/nonexistent/crossbox"] if row.label == "arm64" else ["true"],
                         jobs=2, out=out, err=err)
    runner.run(rows)
    assert [r.status for r in rows] == [125, 0]
    assert err.getvalue().startswith(b"arm64 | crossbox: error: /nonexistent/crossbox was not found")


def test_an_interruption_signals_every_running_row_and_reads_them_to_their_end() -> None:
    """A row that handles the signal still gets its last words out; its status is its own."""
    script = "trap 'echo bye; exit 7' TERM; echo up; while :; do sleep 0.05; done"
    runner, out, _ = _rows({"arm64": script, "s390x": script, "ppc64le": script}, jobs=2)
    started = time.monotonic()

    def interrupt_soon(signum: int, frame: object) -> None:
        from crossbox.host.errors import Interrupted

        raise Interrupted("terminated", status=143)  # what crossbox.host.signals raises

    old = signal.signal(signal.SIGALRM, interrupt_soon)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(Exception, match="terminated"):
            runner.run(runner.rows)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - started < 4
    text = out.getvalue().splitlines()
    assert b"arm64   | bye" in text and b"s390x   | bye" in text
    assert [r.status for r in runner.rows] == [7, 7, None]  # the third never started
    assert runner.running == []


def test_a_row_that_ignores_the_signal_is_killed_after_the_grace_time() -> None:
    runner, _, _ = _rows({"arm64": "trap '' INT TERM; echo up; while :; do sleep 0.05; done"}, grace=0.5)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.run(runner.rows)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert runner.rows[0].status == 137


def test_sigterm_to_a_matrix_stops_its_rows_and_prints_the_table() -> None:
    """The whole verb in a child Python, with rows that are sh scripts: 143 and a table."""
    program = textwrap.dedent("""
        import sys
        from crossbox.host import signals
        from crossbox.host.commands import matrix
        signals.install()
        matrix._prepare = lambda rows, *a: list(rows)
        matrix.row_argv = lambda arch, *a, **k: ["sh", "-c", "echo up; exec sleep 30"]
        sys.exit(matrix.run_matrix("quay.io/a/b:1", "arm64,s390x", None, ["x"], assume_yes=True,
                                   log_level="warning", log_format="console"))
    """)
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert b"arm64  143     interrupted" in err
    assert b"s390x  143     interrupted" in err


def test_rows_that_write_more_than_a_pipe_holds_lose_no_line_and_do_not_block() -> None:
    runner, out, err = _rows({"arm64": "seq 1 50000", "s390x": "seq 1 50000 >&2; seq 1 3"})
    runner.run(runner.rows)
    lines = out.getvalue().splitlines()
    assert [line for line in lines if line.startswith(b"arm64 ")] == [b"arm64 | %d" % i for i in range(1, 50001)]
    assert len(err.getvalue().splitlines()) == 50000
    assert [r.status for r in runner.rows] == [0, 0]


def test_the_live_line_names_each_rows_state_and_fits_the_terminal() -> None:
    from crossbox.shared.arch import parse_arch

    rows = [matrix.Row(a, parse_arch(a)) for a in ("arm64", "ppc64le", "s390x", "riscv64")]
    rows[0].status = 0
    rows[1].status = 125
    rows[2].proc = object()  # type: ignore[assignment]
    rows[2].started = 10.0
    assert matrix.status_line(rows, 12.5, 200) == \
        "arm64: ok  ppc64le: failed (125)  s390x: running 2s  riscv64: waiting"
    assert matrix.status_line(rows, 12.5, 20) == "arm64: ok  ppc64..."  # 19 columns: the cursor stays on the line


def test_on_a_terminal_the_live_line_is_cleared_before_each_line_and_at_the_end() -> None:
    runner, out, err = _rows({"arm64": "echo a; echo b >&2"})
    runner.live = True
    runner.run(runner.rows)
    assert out.getvalue() == b"arm64 | a\n"
    text = err.getvalue()
    assert b"arm64 | b\n" in text
    assert text.endswith(b"\r\x1b[K")  # nothing of the line is left
    assert b"\r\x1b[Karm64: " in text


def test_a_malformed_image_is_one_error_before_any_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--rm", "-i", "Bad/Name:1", "--arch", "arm64,s390x", "true"]) == 125
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "upper-case" in err
