"""crossbox.conf: places, merging, the command line over the files, one line per bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from crossbox.host import config
from crossbox.host.commands import create
from crossbox.host.errors import Exit, InvalidInput
from crossbox.shared.arch import parse_arch


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(system file, user file), neither written yet."""
    system = tmp_path / "etc" / "crossbox.conf"
    monkeypatch.setattr(config, "SYSTEM_FILE", str(system))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    user = tmp_path / "config" / "containers" / "crossbox.conf"
    system.parent.mkdir(parents=True)
    user.parent.mkdir(parents=True)
    return system, user


def test_no_file_is_no_default(files: tuple[Path, Path]) -> None:
    assert config.load() == config.Defaults()


def test_the_user_file_wins_key_by_key(files: tuple[Path, Path]) -> None:
    system, user = files
    system.write_text('[general]\narch = "s390x"\ndistro = "debian"\nrelease = "12"\n')
    user.write_text('# mine\n[general]\narch = "arm64"\n')
    assert config.load() == config.Defaults(arch="arm64", distro="debian", release="12",
                                            sources=(str(system), str(user)))


def test_the_user_file_is_under_xdg_config_home_else_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/x/conf")
    assert config.user_file() == "/x/conf/containers/crossbox.conf"
    from crossbox.host import settings

    settings.reset()
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.user_file() == f"{tmp_path}/.config/containers/crossbox.conf"


def test_a_relative_xdg_config_home_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "conf")
    with pytest.raises(InvalidInput, match="XDG_CONFIG_HOME='conf' is invalid: it takes an absolute path"):
        config.user_file()


@pytest.mark.parametrize(("text", "line", "problem"), [
    ('[general]\narch = "arm64"\ndistro = debian\n', 3, "is not valid TOML: Invalid value"),
    ('[general]\narch = "arm64"\ncolour = "red"\n', 3, "unknown key 'colour' in [general]"),
    ('[general]\n\n  "arch" = "arm64"\n  flavour = "x"\n', 4, "unknown key 'flavour' in [general]"),
    ('[general]\narch = "arm64"\n\n[extra]\nx = "1"\n', 4, "unknown table or key 'extra'"),
    ('top = "x"\n[general]\n', 1, "unknown table or key 'top'"),
    ('[general]\nrelease = 12\n', 2, 'release must be a string, as release = "..."'),
    ('[general]\narch = "vax"\n', 2, "vax"),
    ('[general]\ndistro = "plan9"\n', 2, "'plan9' is not a distribution crossbox knows"),
    ('[general]\ndistro = "fedora"\nrelease = "twelve"\n', 3, "'twelve' is not a release of fedora"),
    ('[general]\nimage = "UPPER/case:1"\n', 2, "UPPER"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_line(files: tuple[Path, Path], text: str, line: int,
                                                         problem: str) -> None:
    _, user = files
    user.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        config.load()
    assert caught.value.status == Exit.INVALID_INPUT
    message = caught.value.line()
    assert "\n" not in message
    assert message.startswith(f"crossbox: error: the configuration file {user}, line {line}")
    assert problem in message
    assert message.endswith(")") or "fix it or remove it" in message


def test_a_file_that_is_not_utf8_or_is_a_directory(files: tuple[Path, Path]) -> None:
    _, user = files
    user.write_bytes(b'[general]\narch = "\xff"\n')
    with pytest.raises(InvalidInput, match="is not UTF-8 text"):
        config.load()
    user.unlink()
    user.mkdir()
    with pytest.raises(InvalidInput, match=f"the configuration file {user} is a directory"):
        config.load()


def test_empty_values_and_an_empty_file_are_nothing(files: tuple[Path, Path]) -> None:
    _, user = files
    user.write_text('[general]\narch = ""\n')
    assert config.load() == config.Defaults(sources=(str(user),))
    user.write_text("")
    assert config.load() == config.Defaults(sources=(str(user),))


D = config.Defaults


@pytest.mark.parametrize(("cli", "conf", "want"), [
    # nothing asked: the file's image, else its distro and release; its arch
    ((None, None, None, None), D(arch="arm64", image="i:1", distro="debian"), ("arm64", None, None, "i:1")),
    ((None, None, None, None), D(distro="debian", release="12"), (None, "debian", "12", None)),
    # --arch wins, even an empty one (which resolution then refuses)
    (("", None, None, "i:1"), D(arch="arm64"), ("", None, None, "i:1")),
    (("s390x", None, None, None), D(arch="arm64", image="i:1"), ("s390x", None, None, "i:1")),
    # --image wins over the file's distro/release/image, not its arch
    ((None, None, None, "mine:2"), D(arch="arm64", distro="debian", release="12", image="i:1"),
     ("arm64", None, None, "mine:2")),
    # --distro: the file's release only for the same distribution
    ((None, "debian", None, None), D(distro="Debian", release="12", image="i:1"), (None, "debian", "12", None)),
    ((None, "fedora", None, None), D(distro="debian", release="12"), (None, "fedora", None, None)),
    # --release alone takes the file's distro
    ((None, None, "13", None), D(distro="debian", release="12"), (None, "debian", "13", None)),
])
def test_the_command_line_over_the_files(cli: tuple[str | None, ...], conf: config.Defaults,
                                         want: tuple[str | None, ...]) -> None:
    assert tuple(config.apply(*cli, conf)) == want


def test_resolve_target_takes_the_files_defaults(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, user = files
    monkeypatch.setattr(create, "host_arch", lambda: parse_arch("amd64"))
    user.write_text('[general]\narch = "arm64"\nimage = "127.0.0.1:5000/bb:1"\n')
    target = create.resolve_target(create.CreateRequest())
    assert (str(target.remote), target.arch.name, target.container) == ("127.0.0.1:5000/bb:1", "aarch64", "bb-1-arm64")
    target = create.resolve_target(create.CreateRequest(arch="amd64"))
    assert (target.native, target.container) == (True, "bb-1")
    # A tag naming its architecture keeps it over the file's arch (and says nothing of --arch).
    target = create.resolve_target(create.CreateRequest(image="registry.fedoraproject.org/fedora-toolbox:42-s390x"))
    assert target.arch.name == "s390x"
