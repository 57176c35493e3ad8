"""crossbox.conf end to end: the file picks the image and the architecture of a bare create
(and of run's default container); the command line wins; a malformed file is refused with
its name and line, and nothing is made."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bed.bed import Bed


@pytest.fixture
def config_home(bed: Bed, rootless: bool) -> Iterator[Path]:
    """An XDG_CONFIG_HOME of this test's own, readable by the user crossbox runs as."""
    parent = Path(bed.tester.home) if rootless and bed.tester else bed.workdir
    home = parent / f"config-{uuid.uuid4().hex[:8]}"
    (home / "containers").mkdir(parents=True)
    if rootless and bed.tester:
        for path in (home, home / "containers"):
            os.chown(path, bed.tester.uid, bed.tester.gid)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def write_conf(home: Path, text: str) -> Path:
    path = home / "containers" / "crossbox.conf"
    path.write_text(text)
    path.chmod(0o644)
    return path


def containers(bed: Bed, rootless: bool) -> dict[str, dict[str, object]]:
    listed = bed.crossbox(["list", "--containers", "--format", "json"], rootless=rootless)
    assert listed.returncode == 0, listed.stderr
    return {c["name"]: c for c in json.loads(listed.stdout)["containers"]}


def test_the_file_picks_image_and_arch_of_a_bare_create_and_the_command_line_wins(
        bed: Bed, rootless: bool, config_home: Path) -> None:
    image = bed.images["every"]
    write_conf(config_home, f'# my defaults\n[general]\narch = "arm64"\nimage = "{image}"\n')
    env = {"XDG_CONFIG_HOME": str(config_home)}
    made = []
    try:
        created = bed.crossbox(["-y", "create"], rootless=rootless, env=env)
        assert created.returncode == 0, created.stderr
        name = created.stdout.split("Created container ", 1)[1].split()[0]
        made.append(name)
        assert name.endswith("-arm64")
        box = containers(bed, rootless)[name]
        assert (box["arch"], box["image"]) == ("arm64", f"{image}-arm64")
        # run without a container name uses the file's default container
        ran = bed.crossbox(["run", "uname", "-m"], rootless=rootless, env=env)
        assert (ran.returncode, ran.stdout.strip()) == (0, "aarch64"), ran.stderr
        # --arch on the command line wins over the file's arch; the image stays the file's
        other = bed.crossbox(["-y", "create", "--arch", "s390x"], rootless=rootless, env=env)
        assert other.returncode == 0, other.stderr
        name2 = other.stdout.split("Created container ", 1)[1].split()[0]
        made.append(name2)
        assert containers(bed, rootless)[name2]["arch"] == "s390x"
    finally:
        for n in made:
            bed.crossbox(["rm", "--force", n], rootless=rootless)


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[general]\narch = "arm64"\nimage = not-quoted\n', 3, "is not valid TOML"),
    ('[general]\narch = "arm64"\nflavour = "x"\n', 3, "unknown key 'flavour' in [general]"),
    ('[general]\narch = "vax"\n', 2, "'vax' is not a supported architecture"),
])
def test_a_malformed_file_is_refused_naming_file_and_line(bed: Bed, rootless: bool, config_home: Path,
                                                          text: str, line: int, words: str) -> None:
    path = write_conf(config_home, text)
    before = set(containers(bed, rootless))
    refused = bed.crossbox(["-y", "create"], rootless=rootless, env={"XDG_CONFIG_HOME": str(config_home)})
    assert refused.returncode == 3
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith(f"crossbox: error: the configuration file {path}, line {line}")
    assert words in lines[0]
    assert "Traceback" not in refused.stderr
    assert set(containers(bed, rootless)) == before
    # Commands that need no default never read it.
    assert bed.crossbox(["list"], rootless=rootless, env={"XDG_CONFIG_HOME": str(config_home)}).returncode == 0
