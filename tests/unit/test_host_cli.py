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


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--no-such-option", "list"])
    assert done.value.code == 2
    assert "crossbox: error:" in capsys.readouterr().err


def test_missing_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([])
    assert done.value.code == 2
    assert "usage: crossbox" in capsys.readouterr().err


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
