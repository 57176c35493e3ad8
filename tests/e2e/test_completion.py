"""Shell completion for real: bash, zsh and fish load `crossbox completion SHELL` and are asked
what follows `enter `, `rmi ` and `--arch `, with a real container and image in podman."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bed.bed import Bed

VENV_BIN = Path(sys.executable).parent  # where `crossbox` is installed, as the scripts call it


@pytest.fixture
def container(bed: Bed, name: str) -> Iterator[str]:
    done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], name])
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield name
    finally:
        bed.crossbox(["rm", "--force", name])


def shell_env(bed: Bed) -> dict[str, str]:
    env = bed.root_env()
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def script(bed: Bed, shell: str, tmp_path: Path) -> Path:
    done = bed.crossbox(["completion", shell])
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"crossbox.{shell}"
    path.write_text(done.stdout)
    return path


def bash_complete(bed: Bed, script_path: Path, line: str) -> list[str]:
    """What bash offers for the last word of `line`, split as bash splits it (at ':' too)."""
    code = f"""
source {shlex.quote(str(script_path))}
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=()
{{ read -ra COMP_WORDS <<< "${{COMP_LINE//:/ : }}"; }}
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_shtab_crossbox
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], capture_output=True, text=True,
                          env=shell_env(bed), timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_offers_existing_containers_after_enter_and_arm64_after_arch(
        bed: Bed, container: str, tmp_path: Path) -> None:
    bash = script(bed, "bash", tmp_path)
    assert container in bash_complete(bed, bash, "crossbox enter ")
    assert bash_complete(bed, bash, f"crossbox enter {container[:-2]}") == [container]
    assert container in bash_complete(bed, bash, "crossbox run -c ")
    assert container in bash_complete(bed, bash, "crossbox rm ")
    assert "arm64" in bash_complete(bed, bash, "crossbox create --arch ")


def test_bash_offers_the_pulled_image_after_rmi(bed: Bed, container: str, tmp_path: Path) -> None:
    bash = script(bed, "bash", tmp_path)
    local = f"{bed.images['bb-arm64']}-arm64"  # foreign images are stored under an arch-suffixed tag
    assert local in bash_complete(bed, bash, "crossbox rmi ")
    # Typed up to its last ':', bash completes the rest of the reference.
    assert bash_complete(bed, bash, f"crossbox rmi {local[:-3]}") == [local.rsplit(":", 1)[1]]


def test_fish_offers_existing_containers_after_enter_and_arm64_after_arch(
        bed: Bed, container: str, tmp_path: Path) -> None:
    fish = script(bed, "fish", tmp_path)

    def complete(line: str) -> list[str]:
        done = subprocess.run(["fish", "--no-config", "-c", f"source {fish}; complete -C {shlex.quote(line)}"],
                              capture_output=True, text=True, env=shell_env(bed), timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return [w.split("\t")[0] for w in done.stdout.splitlines()]

    assert container in complete("crossbox enter ")
    assert "arm64" in complete("crossbox create --arch ")
    assert f"{bed.images['bb-arm64']}-arm64" in complete("crossbox rmi ")


def test_zsh_offers_existing_containers_after_enter(bed: Bed, container: str, tmp_path: Path) -> None:
    functions = tmp_path / "zfunc"
    functions.mkdir()
    script(bed, "zsh", tmp_path).rename(functions / "_crossbox")
    # An interactive zsh in a pseudo-terminal (zpty), set up as the README says: the script
    # on fpath, then compinit; then TAB. Each read returns once the name is on the screen.
    code = f"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=({functions} \\$fpath); autoload -U compinit; compinit -u -D; LISTMAX=1000"
zpty -w -n z $'crossbox enter {container[:-2]}\\t'
zpty -r -m z out '*{container}*'
zpty -w -n z $'\\C-u'
zpty -w -n z $'crossbox create --arch arm\\t'
zpty -r -m z out '*arm64*'
print ok
"""
    done = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True, env=shell_env(bed),
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr
