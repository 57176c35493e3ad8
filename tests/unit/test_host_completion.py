"""crossbox.host.commands.completion: what each argument completes to, and the bash script run for real.

bash runs the script that `crossbox completion bash` prints. Where the script
asks crossbox for container or image names, a stand-in `crossbox` first on PATH
prints fixed names and records how it was called; the real lookup is in
tests/e2e/test_completion.py.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from crossbox.host import cli, log, parser
from crossbox.host.commands import completion
from crossbox.host.commands import list as listing
from crossbox.host.tools import podman
from crossbox.shared.arch import ARCHITECTURES


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    """cli.main installs signal handlers and configures logging; put them back."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    log.configure()


def bash_complete(script: Path, words: list[str], env_path: str | None = None,
                  line: str | None = None) -> list[str]:
    """COMPREPLY of the crossbox completion function for `words` (the last one being completed)."""
    setup = f"source {script}\n"
    if line is not None:
        setup += f"COMP_LINE={quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
    array = " ".join(quote(w) for w in words)
    setup += f"COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}\n"
    setup += "_shtab_crossbox\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    env = {"PATH": f"{env_path}:/usr/bin:/bin" if env_path else "/usr/bin:/bin", "HOME": "/nonexistent"}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", setup], capture_output=True, text=True,
                          env=env, check=True)
    return [w for w in done.stdout.splitlines() if w]


def quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "crossbox.bash"
    path.write_text(completion.script("bash"))
    return path


@pytest.fixture
def fake_crossbox(tmp_path: Path) -> Path:
    """A `crossbox` that answers `list --names KIND` with fixed names and records its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "crossbox"
    fake.write_text(f"""#!/bin/sh
echo "$*" >> {tmp_path}/calls
case "$*" in
  "list --names containers") printf '%s\\n' box-arm64 box-s390x other ;;
  "list --names images") printf '%s\\n' 127.0.0.1:5000/bb:arm64-arm64 127.0.0.1:5000/bb:s390x-s390x ;;
  *) exit 2 ;;
esac
""")
    fake.chmod(0o755)
    return bin_dir


def test_arch_words_are_every_canonical_and_oci_name() -> None:
    words = completion.arch_words()
    for arch in ARCHITECTURES:
        assert arch.name in words and arch.oci in words
    assert len(words) == len(set(words))


def test_completion_verb_offers_exactly_the_supported_shells() -> None:
    sub = next(a for a in parser.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    shell = next(a for a in sub.choices["completion"]._actions if a.dest == "shell")
    assert tuple(shell.choices or ()) == completion.SHELLS


def _kinds() -> dict[tuple[str, str], str | None]:
    sub = next(a for a in parser.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {(verb, a.option_strings[-1] if a.option_strings else a.dest): completion.kind_of(verb, a)
            for verb, p in sub.choices.items() for a in p._actions}


def test_each_argument_completes_what_it_names() -> None:
    kinds = _kinds()
    for verb in ("create", "enter", "run", "doctor"):
        assert kinds[(verb, "--arch")] == "arches"
    assert kinds[("enter", "container")] == "containers"
    assert kinds[("run", "--container")] == "containers"
    assert kinds[("rm", "containers")] == "containers"
    assert kinds[("create", "--image")] == "images"
    assert kinds[("run", "--image")] == "images"
    assert kinds[("rmi", "images")] == "images"
    assert kinds[("create", "--authfile")] == "file"


def test_a_new_name_flags_and_hidden_options_complete_nothing() -> None:
    kinds = _kinds()
    assert kinds[("create", "container")] is None
    assert kinds[("list", "--containers")] is None
    assert kinds[("list", "--images")] is None
    assert kinds[("list", "--names")] is None


def test_bash_offers_arm64_after_arch(bash_script: Path) -> None:
    assert "arm64" in bash_complete(bash_script, ["crossbox", "create", "--arch", ""])
    assert bash_complete(bash_script, ["crossbox", "doctor", "-a", "s3"]) == ["s390x"]
    assert set(bash_complete(bash_script, ["crossbox", "-y", "run", "--arch", "a"])) == {
        "amd64", "aarch64", "arm64", "arm"}


def test_bash_offers_commands_options_and_choices(bash_script: Path) -> None:
    assert bash_complete(bash_script, ["crossbox", ""]) == [
        "create", "enter", "run", "list", "stop", "rm", "rmi", "doctor", "completion", "help"]
    assert "--authfile" in bash_complete(bash_script, ["crossbox", "create", "--"])
    assert "--names" not in bash_complete(bash_script, ["crossbox", "list", "--"])
    assert bash_complete(bash_script, ["crossbox", "list", "--format", ""]) == ["table", "json"]
    assert bash_complete(bash_script, ["crossbox", "completion", ""]) == ["bash", "zsh", "fish"]


def test_bash_asks_crossbox_list_for_container_names(bash_script: Path, fake_crossbox: Path) -> None:
    assert bash_complete(bash_script, ["crossbox", "enter", "box"], str(fake_crossbox)) == [
        "box-arm64", "box-s390x"]
    assert bash_complete(bash_script, ["crossbox", "run", "-c", ""], str(fake_crossbox)) == [
        "box-arm64", "box-s390x", "other"]
    assert bash_complete(bash_script, ["crossbox", "rm", "box-arm64", "o"], str(fake_crossbox)) == ["other"]
    calls = (fake_crossbox.parent / "calls").read_text().splitlines()
    assert calls == ["list --names containers"] * 3


def test_bash_completes_image_references_across_the_colons_bash_splits_at(
        bash_script: Path, fake_crossbox: Path) -> None:
    assert bash_complete(bash_script, ["crossbox", "rmi", ""], str(fake_crossbox)) == [
        "127.0.0.1:5000/bb:arm64-arm64", "127.0.0.1:5000/bb:s390x-s390x"]
    # bash splits `127.0.0.1:5000/bb:s` at each ':' and replaces only the last word.
    words = ["crossbox", "rmi", "127.0.0.1", ":", "5000/bb", ":", "s"]
    got = bash_complete(bash_script, words, str(fake_crossbox), line="crossbox rmi 127.0.0.1:5000/bb:s")
    assert got == ["s390x-s390x"]


def test_a_container_name_is_not_offered_for_a_new_container(bash_script: Path, fake_crossbox: Path) -> None:
    assert "box-arm64" not in bash_complete(bash_script, ["crossbox", "create", ""], str(fake_crossbox))
    assert not (fake_crossbox.parent / "calls").exists()


def test_names_of_containers_come_from_the_list_lookup(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    found = [podman.ContainerInfo(id="1", name=n, image="i", state="exited", created="") for n in ("zz", "aa")]
    monkeypatch.setattr(podman, "list_containers", lambda: found)
    assert cli.main(["list", "--names", "containers"]) == 0
    assert capsys.readouterr().out == "aa\nzz\n"


def test_names_of_images_leave_out_nameless_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(podman, "list_containers", lambda: [])
    rows = [listing.ImageRow("q.io/a:1-arm64", "arm64", 1, "x"), listing.ImageRow("<none>@0123", "arm64", 1, "y"),
            listing.ImageRow("q.io/a:1-arm64", "arm64", 1, "x")]
    monkeypatch.setattr(listing, "gather_images", lambda containers: rows)
    assert listing.names("images") == ["q.io/a:1-arm64"]


def test_the_names_helper_is_hidden_from_help() -> None:
    sub = next(a for a in parser.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "--names" not in sub.choices["list"].format_help()


def test_completion_verb_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", "fish"]) == 0
    out = capsys.readouterr().out
    assert "complete -c crossbox" in out and "(crossbox list --names containers 2>/dev/null)" in out


def test_a_shtab_without_fish_and_no_installed_script_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    import shtab

    monkeypatch.setattr(shtab, "SUPPORTED_SHELLS", ["bash", "zsh", "tcsh"])
    monkeypatch.setattr(completion, "install_prefix", lambda: tmp_path)
    assert cli.main(["completion", "fish"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cannot write fish completion, and no installed fish completion script was found" in captured.err


def install_scripts(prefix: Path) -> dict[str, str]:
    """The packages' scripts under `prefix`, as debian/rules installs them; their text by shell."""
    texts = {}
    for shell in completion.SHELLS:
        path = prefix / completion.INSTALLED[shell][0]
        path.parent.mkdir(parents=True)
        texts[shell] = f"# the {shell} script of the package\n"
        path.write_text(texts[shell])
    return texts


def test_a_shtab_without_fish_prints_the_installed_fish_script(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    import shtab

    texts = install_scripts(tmp_path)
    monkeypatch.setattr(shtab, "SUPPORTED_SHELLS", ["bash", "zsh", "tcsh"])
    monkeypatch.setattr(completion, "install_prefix", lambda: tmp_path)
    assert cli.main(["completion", "fish"]) == 0
    assert capsys.readouterr().out == texts["fish"]
    assert cli.main(["completion", "bash"]) == 0  # a shell shtab can write: shtab's own script
    assert "complete -o bashdefault -F _shtab_crossbox crossbox" in capsys.readouterr().out


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_without_shtab_the_installed_script_is_printed(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path, shell: str) -> None:
    texts = install_scripts(tmp_path)
    monkeypatch.setitem(sys.modules, "shtab", None)  # import shtab raises ImportError
    monkeypatch.setattr(completion, "install_prefix", lambda: tmp_path)
    assert cli.main(["completion", shell]) == 0
    assert capsys.readouterr().out == texts[shell]


def test_the_zsh_script_is_also_found_where_fedora_and_make_install_put_it(tmp_path: Path) -> None:
    path = tmp_path / "share/zsh/site-functions/_crossbox"
    path.parent.mkdir(parents=True)
    path.write_text("#compdef crossbox\n")
    assert completion.installed_script("zsh", tmp_path) == "#compdef crossbox\n"
    assert completion.installed_script("bash", tmp_path) is None


def test_without_shtab_and_no_installed_script_the_verb_fails_in_one_line_with_status_4(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "shtab", None)
    monkeypatch.setattr(completion, "install_prefix", lambda: tmp_path)
    assert cli.main(["completion", "bash"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "shtab is not installed, so crossbox cannot write bash completion" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(("module", "prefix"), [
    ("/usr/lib/python3/dist-packages/crossbox/host/commands/completion.py", "/usr"),
    ("/usr/local/lib/python3.11/dist-packages/crossbox/host/commands/completion.py", "/usr/local"),
    ("/usr/lib/python3.13/site-packages/crossbox/host/commands/completion.py", "/usr"),
    ("/srv/crossbox/host/commands/completion.py", None),
])
def test_the_install_prefix_is_the_one_above_the_lib_directory(module: str, prefix: str | None) -> None:
    found = completion.install_prefix(module)
    assert (str(found) if found is not None else None) == prefix


def test_importing_the_cli_and_building_its_parser_does_not_import_shtab() -> None:
    code = ("import sys; from crossbox.host import cli, parser; parser.build_parser(); "
            "print(sorted(m for m in ('shtab', 'crossbox.host.commands.completion') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
