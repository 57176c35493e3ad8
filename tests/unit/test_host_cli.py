"""crossbox.host.cli: the parser and the exit statuses at the error boundary.

Only paths that fail before any podman call or host probe are run here.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from crossbox.host import checks, cli, log, parser
from crossbox.shared.arch import supported_names


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)
    log.configure()


@pytest.fixture
def no_host_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the host was probed")

    monkeypatch.setattr(checks, "run_all", refuse)


def test_version_prints_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0  # answered before the parser is built
    assert capsys.readouterr().out == "crossbox 0.1.0\n"
    with pytest.raises(SystemExit) as done:  # argparse's own answer says the same
        parser.build_parser().parse_args(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == "crossbox 0.1.0\n"


def test_unknown_option_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--no-such-option", "list"]) == 2
    assert capsys.readouterr().err == (
        "crossbox: error: unknown option '--no-such-option' for crossbox; 'crossbox help' lists them\n")


def test_a_near_miss_of_a_global_option_gets_a_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--assume-yes", "list"]) == 2
    assert capsys.readouterr().err == (
        "crossbox: error: unknown option '--assume-yes' for crossbox; did you mean '--assumeyes'?\n")


def test_a_mistyped_verb_gets_a_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["creat", "--arch", "arm64"]) == 2
    assert capsys.readouterr().err == "crossbox: error: unknown command 'creat'; did you mean 'crossbox create'?\n"
    assert cli.main(["frobnicate"]) == 2
    assert capsys.readouterr().err == (
        "crossbox: error: unknown command 'frobnicate'; 'crossbox help' lists the commands\n")


def test_an_unknown_option_of_a_verb_is_named_with_a_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["rm", "--forse", "box"]) == 2
    assert capsys.readouterr().err == (
        "crossbox: error: unknown option '--forse' for crossbox rm; did you mean '--force'?\n")
    assert cli.main(["list", "extra"]) == 2
    assert "crossbox list takes no argument 'extra' here" in capsys.readouterr().err


def test_bare_crossbox_prints_a_short_usage_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: crossbox [OPTIONS] COMMAND [ARG...]\n")
    assert "commands: create, enter, run, list, stop, rm, rmi, doctor, completion, help" in err
    assert "Run 'crossbox help'" in err and len(err.splitlines()) == 3


def test_help_verb_prints_the_help_of_crossbox_and_of_a_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: crossbox") and "stop" in out and "--log-level" in out
    assert cli.main(["help", "create"]) == 0
    assert capsys.readouterr().out.startswith("usage: crossbox create")
    assert cli.main(["help", "crate"]) == 2
    assert "did you mean 'crossbox create'?" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "level"), [
    ("trace", "debug"), ("debug", "debug"), ("info", "info"), ("warn", "warning"), ("warning", "warning"),
    ("error", "error"), ("fatal", "critical"), ("panic", "critical"),
])
def test_log_level_takes_toolbxs_names(given: str, level: str) -> None:
    args = parser.build_parser().parse_args(["--log-level", given, "list"])
    assert log.LEVEL_NAMES[args.log_level] == level
    args = parser.build_parser().parse_args(["--log-level", given.upper(), "list"])  # any case, as Toolbx
    assert log.LEVEL_NAMES[args.log_level] == level


def test_verbose_is_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(cli, "dispatch", lambda verb, args: seen.append(args.log_level) or 0)
    assert cli.main(["-v", "list"]) == 0
    assert cli.main(["--log-level", "warn", "list"]) == 0
    assert cli.main(["list", "--verbose"]) == 0
    assert seen == ["debug", "warning", "debug"]


def test_enter_takes_the_container_as_an_option_too(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from crossbox.host.commands import enter, run

    asked = []
    monkeypatch.setattr(enter, "enter_or_run", lambda req: asked.append(req.container) or 0)
    monkeypatch.setattr(run, "enter_or_run", lambda req: asked.append(req.container) or 0)  # the cold hot path
    monkeypatch.setattr(run, "run_if_ready", lambda *a: None)
    assert cli.main(["enter", "-c", "box"]) == 0
    assert cli.main(["enter", "--container", "box", "box"]) == 0
    assert asked == ["box", "box"]
    assert cli.main(["enter", "-c", "one", "two"]) == 2
    assert "two containers were named, one (-c) and two" in capsys.readouterr().err
    assert cli.hot_session(["enter", "-c", "box"]) == ("box", [])


def test_create_takes_the_container_as_an_option_too(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from crossbox.host.commands import create

    asked = []
    monkeypatch.setattr(create, "create", lambda req: asked.append(req.name) or req.name or "default")
    assert cli.main(["create", "-c", "box"]) == 0
    assert cli.main(["create", "--container", "box", "box"]) == 0
    assert cli.main(["create"]) == 0
    assert asked == ["box", "box", None]
    assert cli.main(["create", "-c", "one", "two"]) == 2
    assert "two containers were named, one (-c) and two" in capsys.readouterr().err


def test_json_mode_errors_are_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert cli.main(["--log-format", "json", "creat"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    data = json.loads(line)
    assert data["level"] == "error" and data["event"] == "unknown command 'creat'"
    assert data["exit_status"] == 2 and data["timestamp"].endswith("Z")
    with pytest.raises(SystemExit):
        cli.main(["--log-format", "json", "list", "--format", "yaml"])
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["level"] == "error"


def test_bad_choice_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["list", "--format", "yaml"])
    assert done.value.code == 2


@pytest.mark.usefixtures("no_host_probe")
def test_doctor_with_an_unknown_arch_is_invalid_input_listing_the_supported(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--arch", "sparc9"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("crossbox: error: 'sparc9' is not a supported architecture")
    for name in supported_names():
        assert name in err


def test_run_without_a_command_is_125(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run"]) == 125
    assert "run needs a command" in capsys.readouterr().err


def test_run_with_only_a_double_dash_is_125(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--"]) == 125
    assert "run needs a command" in capsys.readouterr().err


def test_run_rm_without_image_is_125(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--rm", "uname", "-m"]) == 125
    assert "--rm and --image go together" in capsys.readouterr().err


def test_run_image_without_rm_is_125(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--image", "quay.io/a/b:1", "true"]) == 125
    assert "--rm and --image go together" in capsys.readouterr().err


def test_oneshot_run_with_a_container_is_125(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--rm", "--image", "quay.io/a/b:1", "-c", "box", "true"]) == 125
    assert "one-shot run takes --image" in capsys.readouterr().err


def test_create_with_image_and_distro_is_invalid_input(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["create", "--image", "registry.example.org/x:1", "--distro", "fedora"]) == 3
    assert "--image cannot be combined with --distro" in capsys.readouterr().err


def test_create_with_an_unknown_arch_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["create", "--arch", "vax"]) == 3
    assert "'vax' is not a supported architecture" in capsys.readouterr().err


def test_run_status_keeps_toolbx_conventions() -> None:
    assert cli._run_status("run", 3) == 125
    assert cli._run_status("enter", 5) == 125
    assert cli._run_status("run", 130) == 130
    assert cli._run_status("enter", 143) == 143
    assert cli._run_status("create", 3) == 3
    assert cli._run_status("doctor", 1) == 1


def test_parser_knows_every_verb() -> None:
    p = parser.build_parser()
    for argv in (["create"], ["enter"], ["run", "true"], ["list"], ["rm", "x"], ["rmi", "x"],
                 ["doctor"]):
        assert p.parse_args(argv).verb == argv[0]


def test_run_keeps_the_commands_own_options() -> None:
    args = parser.build_parser().parse_args(["run", "-c", "box", "ls", "-la", "--color=never"])
    assert args.container == "box"
    assert args.command == ["ls", "-la", "--color=never"]


def test_assumeyes_is_accepted_before_and_after_the_verb() -> None:
    p = parser.build_parser()
    assert p.parse_args(["-y", "create"]).assumeyes is True
    assert p.parse_args(["create", "-y"]).assumeyes is True
    assert p.parse_args(["create"]).assumeyes is False


@pytest.mark.parametrize(("argv", "verb"), [
    (["create", "-a", "arm64"], "create"), (["-y", "--log-level", "debug", "run", "true"], "run"),
    (["--log-format", "json", "list"], "list"), (["--help"], None), (["-h", "create"], None),
    (["crate"], None), ([], None), (["--log-level", "create"], None),
])
def test_verb_of_tells_the_verb_without_argparse(argv: list[str], verb: str | None) -> None:
    assert parser.verb_of(argv, tuple(cli.VERBS)) == verb


def test_a_parser_of_one_verb_parses_that_verb_as_the_whole_one_does() -> None:
    argv = ["-y", "create", "--arch", "arm64", "-i", "quay.io/a/b:1", "box"]
    assert vars(parser.build_parser("create").parse_args(argv)) == vars(parser.build_parser().parse_args(argv))


def test_log_podman_maps_the_level_to_podmans_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from crossbox.host.tools import runner

    seen = []
    monkeypatch.setattr(runner, "log_podman", seen.append)
    monkeypatch.setattr(cli, "dispatch", lambda verb, args: 0)
    for level, podman_level in (("trace", "debug"), ("warn", "warn"), ("panic", "fatal"), ("info", "info")):
        assert cli.main(["--log-podman", "--log-level", level, "list"]) == 0
        assert seen[-1] == podman_level
    assert cli.main(["list"]) == 0
    assert cli.main(["-v", "list"]) == 0
    assert len(seen) == 4
    assert cli.main(["-vv", "list"]) == 0  # as Toolbx: -vv is debug and podman's own lines
    assert cli.main(["list", "-vv"]) == 0
    assert seen[4:] == ["debug", "debug"]


def test_the_hot_path_returns_the_session_status(monkeypatch: pytest.MonkeyPatch) -> None:
    from crossbox.host.commands import run

    monkeypatch.setattr(run, "run_if_ready", lambda name, command: 7 if name == "box" else None)
    assert cli.main(["run", "-c", "box", "false"]) == 7


def test_entry_leaves_quickly_with_main_status(monkeypatch: pytest.MonkeyPatch) -> None:
    flushed, left = [], []

    class Stream:
        def __init__(self, name: str) -> None:
            self.name = name

        def flush(self) -> None:
            flushed.append(self.name)

    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(cli.sys, "stdout", Stream("out"))
    monkeypatch.setattr(cli.sys, "stderr", Stream("err"))
    monkeypatch.setattr(cli.os, "_exit", left.append)
    cli.entry()
    assert flushed == ["out", "err"] and left == [3]


def test_entry_takes_pythons_way_out_when_output_cannot_be_flushed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def flush(self) -> None:
            raise BrokenPipeError

    monkeypatch.setattr(cli, "main", lambda: 0)
    monkeypatch.setattr(cli.sys, "stdout", Broken())
    monkeypatch.setattr(cli.os, "_exit", lambda status: pytest.fail("os._exit with an unflushed stdout"))
    with pytest.raises(SystemExit) as done:
        cli.entry()
    assert done.value.code == 0


def test_entry_waits_for_another_thread_still_running(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        monkeypatch.setattr(cli, "main", lambda: 4)
        monkeypatch.setattr(cli.os, "_exit", lambda status: pytest.fail("os._exit with a thread running"))
        with pytest.raises(SystemExit) as done:
            cli.entry()
        assert done.value.code == 4
    finally:
        release.set()
        worker.join()


def test_a_box_not_ready_is_started_without_the_parser(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from crossbox.host import parser
    from crossbox.host.commands import run
    from crossbox.host.errors import container_not_found

    asked = []

    def slow(req: run.SessionRequest) -> int:
        asked.append((req.container, req.command, req.preserve_fds, req.assume_yes, req.log_level))
        if req.container == "gone":
            raise container_not_found("gone")
        return 5

    monkeypatch.setattr(run, "run_if_ready", lambda *a: None)
    monkeypatch.setattr(run, "enter_or_run", slow)
    monkeypatch.setattr(parser, "build_parser", lambda verb: pytest.fail("the parser was built"))
    assert cli.main(["run", "-c", "box", "--", "uname", "-m"]) == 5
    assert cli.main(["enter", "box"]) == 5
    assert asked == [("box", ("uname", "-m"), 0, False, "warning"), ("box", (), 0, False, "warning")]
    assert cli.main(["run", "-c", "gone", "true"]) == 125  # run keeps Toolbx's statuses
    assert cli.main(["enter", "gone"]) == 125
    assert capsys.readouterr().err.count("gone") >= 2


# What `crossbox run -c BOX CMD` on a ready box imports: cli, the run verb, the state, the runner.
HOT_PATH_MODULES = ("crossbox.host.cli", "crossbox.host.commands.run", "crossbox.host.tools.runner",
                    "crossbox.host.settings", "crossbox.shared.nativetools", "crossbox.shared.sessionenv")
# Each costs a warm run milliseconds on its own or through what it imports (enum: about 5 ms here).
NOT_ON_THE_HOT_PATH = ("argparse", "collections", "contextlib", "dataclasses", "enum", "functools", "math", "re",
                       "shlex", "signal", "subprocess", "typing", "warnings")


def test_the_hot_path_imports_nothing_heavy(tmp_path: pytest.TempPathFactory) -> None:
    """In a bare interpreter (-S: no site, whose .pth files import what they like), the hot
    path's modules, and its readiness check of a box, load none of the heavy stdlib modules."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(cli.__file__).resolve().parents[1]
    package = Path(str(tmp_path)) / "crossbox"
    package.mkdir()
    for part in ("host", "shared"):
        (package / part).symlink_to(repo / part)
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            f"for name in {HOT_PATH_MODULES!r}:\n"
            "    __import__(name)\n"
            "import crossbox.host.commands.run as run\n"
            "assert run.run_if_ready('crossbox-unit-no-such-box', ['true']) is None\n"  # the lock check, no box
            f"print(' '.join(sorted(set({NOT_ON_THE_HOT_PATH!r}) & (set(sys.modules) - before))))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-S", "-B", "-c", code], capture_output=True, text=True, check=True,
                          env={**env, "PYTHONPATH": str(tmp_path)})
    assert done.stdout.strip() == "", done.stdout + done.stderr
