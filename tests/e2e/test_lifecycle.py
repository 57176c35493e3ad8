"""The whole life of crossbox containers, with real podman, skopeo, qemu and registry,
rootful (--userns=auto) and rootless (--userns keep-id)."""

from __future__ import annotations

import json

import pytest
from bed.bed import Bed

FOREIGN = [("arm64", "bb-arm64", "aarch64"), ("ppc64le", "bb-ppc64le", "ppc64le"),
           ("s390x", "bb-s390x", "s390x")]


def image_arch(bed: Bed, ref: str, rootless: bool) -> str | None:
    done = bed.podman(["image", "inspect", "--format", "{{.Architecture}}", ref], rootless=rootless)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.mark.parametrize(("arch", "image", "machine"), FOREIGN)
def test_life_cycle_create_run_list_rm_rmi(bed: Bed, rootless: bool, box: str, arch: str, image: str,
                                            machine: str) -> None:
    ref = bed.images[image]
    created = bed.crossbox(["-y", "create", "--arch", arch, "--image", ref, box], rootless=rootless)
    assert created.returncode == 0, created.stderr
    assert f"Created container {box}" in created.stdout
    local = f"{ref}-{arch}"
    assert image_arch(bed, local, rootless) == arch

    ran = bed.crossbox(["run", "-c", box, "uname", "-m"], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == machine

    term = bed.terminal(["enter", box], rootless=rootless, env={"TERM": "dumb"})
    try:
        term.expect(r"[$#] ")
        term.send("echo in-$(uname -m)-box; exit\n")
        assert term.wait() == 0
    finally:
        term.close()
    assert f"in-{machine}-box" in term.text

    listed = bed.crossbox(["list", "--format", "json"], rootless=rootless)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    row = next(c for c in data["containers"] if c["name"] == box)
    assert row["arch"] == arch and row["status"] == "running" and row["image"] == local
    assert any(i["name"] == local and i["arch"] == arch for i in data["images"])

    busy = bed.crossbox(["rm", box], rootless=rootless)
    assert busy.returncode == 6 and "is running" in busy.stderr
    removed = bed.crossbox(["rm", "--force", box], rootless=rootless)
    assert removed.returncode == 0, removed.stderr
    assert bed.podman(["container", "exists", box], rootless=rootless).returncode == 1

    rmi = bed.crossbox(["rmi", local], rootless=rootless)
    assert rmi.returncode == 0, rmi.stderr
    assert image_arch(bed, local, rootless) is None


def test_foreign_pull_never_replaces_the_native_image(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["multi"]
    native = f"{box}-native"
    try:
        assert bed.crossbox(["-y", "create", "--image", ref, native], rootless=rootless).returncode == 0
        assert image_arch(bed, ref, rootless) == "amd64"
        made = bed.crossbox(["-y", "create", "--arch", "aarch64", "--image", ref, box], rootless=rootless)
        assert made.returncode == 0, made.stderr
        assert image_arch(bed, ref, rootless) == "amd64"
        assert image_arch(bed, f"{ref}-arm64", rootless) == "arm64"
        assert bed.crossbox(["run", "-c", native, "uname", "-m"], rootless=rootless).stdout.strip() == "x86_64"
        assert bed.crossbox(["run", "-c", box, "uname", "-m"], rootless=rootless).stdout.strip() == "aarch64"
    finally:
        bed.crossbox(["rm", "--force", native], rootless=rootless)


def test_stopped_container_runs_foreign_binaries_after_restart(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["bb-arm64"]
    assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, box], rootless=rootless).returncode == 0
    for _ in range(2):
        ran = bed.crossbox(["run", "-c", box, "uname", "-m"], rootless=rootless)
        assert ran.returncode == 0 and ran.stdout.strip() == "aarch64", ran.stderr
        assert bed.podman(["stop", "-t", "5", box], rootless=rootless).returncode == 0


@pytest.mark.parametrize(("command", "status"), [
    (["true"], 0), (["false"], 1), (["sh", "-c", "exit 7"], 7),
    (["/etc/passwd"], 126), (["no-such-command"], 127),
])
def test_run_propagates_exit_status(bed: Bed, rootless: bool, box: str, command: list[str],
                                    status: int) -> None:
    ref = bed.images["bb-arm64"]
    assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, box], rootless=rootless).returncode == 0
    ran = bed.crossbox(["run", "-c", box, *command], rootless=rootless)
    assert ran.returncode == status, ran.stderr


def test_run_on_a_missing_container_is_125(bed: Bed, rootless: bool, name: str) -> None:
    ran = bed.crossbox(["run", "-c", name, "true"], rootless=rootless)
    assert ran.returncode == 125
    assert f"container {name} not found" in ran.stderr


def test_oneshot_run_leaves_no_container(bed: Bed, rootless: bool) -> None:
    before = bed.podman(["ps", "-a", "-q"], rootless=rootless).stdout.split()
    ran = bed.crossbox(["-y", "run", "--rm", "-i", bed.images["bb-s390x"], "--arch", "s390x",
                        "uname", "-m"], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "s390x"
    failed = bed.crossbox(["-y", "run", "--rm", "-i", bed.images["bb-s390x"], "--arch", "s390x",
                           "sh", "-c", "exit 3"], rootless=rootless)
    assert failed.returncode == 3
    after = bed.podman(["ps", "-a", "-q"], rootless=rootless).stdout.split()
    assert sorted(after) == sorted(before)


def test_single_arch_mismatch_is_refused_before_download(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["bb-s390x"]
    made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, box], rootless=rootless)
    assert made.returncode == 7
    assert f"{ref} is a single-architecture image for s390x, but arm64 was requested" in made.stderr
    assert image_arch(bed, f"{ref}-arm64", rootless) is None
    assert bed.podman(["container", "exists", box], rootless=rootless).returncode == 1


def test_architecture_missing_from_index_lists_what_it_has(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["multi"]
    made = bed.crossbox(["-y", "create", "--arch", "s390x", "-i", ref, box], rootless=rootless)
    assert made.returncode == 7
    assert f"{ref} has no image for s390x" in made.stderr
    assert "linux/amd64, linux/arm64, linux/ppc64le" in made.stderr
    assert image_arch(bed, f"{ref}-s390x", rootless) is None


def test_create_asks_before_downloading_and_shows_the_size(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["multi"]
    bed.podman(["rmi", "--force", f"{ref}-ppc64le"], rootless=rootless)
    term = bed.terminal(["create", "--arch", "ppc64le", "-i", ref, box], rootless=rootless)
    try:
        term.expect(r"Download .* for ppc64le \([0-9.]+ [kM]B\)\? \[y/N\]")
        term.send("y\n")
        assert term.wait() == 0, term.text
    finally:
        term.close()
    assert f"Created container {box}" in term.text
    assert image_arch(bed, f"{ref}-ppc64le", rootless) == "ppc64le"


def test_create_answered_no_downloads_nothing(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["nos390x"]
    bed.podman(["rmi", "--force", f"{ref}-arm64"], rootless=rootless)
    term = bed.terminal(["create", "--arch", "arm64", "-i", ref, box], rootless=rootless)
    try:
        term.expect(r"\[y/N\]")
        term.send("n\n")
        assert term.wait() == 8
    finally:
        term.close()
    assert image_arch(bed, f"{ref}-arm64", rootless) is None
    assert bed.podman(["container", "exists", box], rootless=rootless).returncode == 1


def test_create_without_terminal_or_yes_refuses_to_download(bed: Bed, rootless: bool, box: str) -> None:
    bed.podman(["rmi", "--force", f"{bed.images['multi']}-ppc64le"], rootless=rootless)
    made = bed.crossbox(["create", "--arch", "ppc64le", "-i", bed.images["multi"], box], rootless=rootless)
    assert made.returncode == 8
    assert "pass -y" in made.stderr
    assert image_arch(bed, f"{bed.images['multi']}-ppc64le", rootless) is None


def test_creating_an_existing_container_is_a_clear_error(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["bb-arm64"]
    assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, box], rootless=rootless).returncode == 0
    again = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, box], rootless=rootless)
    assert again.returncode == 6
    assert f"container {box} already exists" in again.stderr


def test_run_offers_to_create_the_default_container_for_the_asked_arch(bed: Bed, rootless: bool) -> None:
    """No container named: the distribution's default, for arm64, is created (-y) and used."""
    env = {"CONTAINERS_REGISTRIES_CONF": str(bed.remap_conf)}
    name, local = "debian-toolbox-12-arm64", "quay.io/toolbx-images/debian-toolbox:12-arm64"
    try:
        refused = bed.crossbox(["run", "-d", "debian", "-r", "12", "--arch", "arm64", "true"],
                               rootless=rootless, env=env)
        assert refused.returncode == 125
        assert f"No container {name} exists" in refused.stderr and "pass -y" in refused.stderr
        ran = bed.crossbox(["-y", "run", "-d", "debian", "-r", "12", "--arch", "arm64", "uname", "-m"],
                           rootless=rootless, env=env)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "aarch64"
        assert image_arch(bed, local, rootless) == "arm64"
        assert image_arch(bed, "quay.io/toolbx-images/debian-toolbox:12", rootless) is None
        listed = json.loads(bed.crossbox(["list", "-c", "--format", "json"], rootless=rootless).stdout)
        assert any(c["name"] == name and c["arch"] == "arm64" for c in listed["containers"])
    finally:
        bed.crossbox(["rm", "--force", name], rootless=rootless)
        bed.podman(["rmi", "--force", local], rootless=rootless)


@pytest.mark.parametrize("mode", ["rootless"], indirect=True)
def test_bare_run_uses_the_only_container(bed: Bed, box: str) -> None:
    """`crossbox create --arch arm64` then a bare `crossbox run` (or enter) uses that container."""
    ours = bed.podman(["ps", "-a", "--filter", "label=dev.crossbox.container=true", "--format", "{{.Names}}"],
                      rootless=True).stdout.split()
    assert ours == [], f"the test user has other crossbox containers: {ours}"
    made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], box], rootless=True)
    assert made.returncode == 0, made.stderr
    ran = bed.crossbox(["run", "uname", "-m"], rootless=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "aarch64"
    assert f"using {box}, the only crossbox container" in ran.stderr


def test_pull_shows_progress_on_a_terminal_and_plain_lines_in_a_pipe(bed: Bed, rootless: bool, box: str) -> None:
    ref = bed.images["multi"]
    bed.podman(["rmi", "--force", f"{ref}-ppc64le"], rootless=rootless)
    piped = bed.crossbox(["-y", "create", "--arch", "ppc64le", "-i", ref, box], rootless=rootless)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr.splitlines() == [f"Pulling {ref} for ppc64le into {ref}-ppc64le"]
    assert "\x1b" not in piped.stderr + piped.stdout
    bed.crossbox(["rm", "--force", box], rootless=rootless)
    bed.podman(["rmi", "--force", f"{ref}-ppc64le"], rootless=rootless)
    term = bed.terminal(["-y", "create", "--arch", "ppc64le", "-i", ref, box], rootless=rootless)
    try:
        assert term.wait() == 0, term.text
    finally:
        term.close()
    assert "Copying blob" in term.text  # skopeo's own progress, on the terminal
    assert f"Created container {box}" in term.text


def test_a_create_after_the_local_name_moved_uses_the_image_it_now_names(bed: Bed, rootless: bool, box: str) -> None:
    """create starts `podman create` from what the last create of a name found (beside the
    inspection); when the name now holds another image, that box goes and the right one is made."""
    ref = bed.images["multi"]
    local = f"{ref}-arm64"
    first, second = f"{box}-1", f"{box}-2"
    try:
        assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, first], rootless=rootless).returncode == 0
        other = f"{bed.registry.address}/{bed.unique_image()}"  # an image no other name holds
        assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", other, f"{box}-o"],
                            rootless=rootless).returncode == 0
        assert bed.podman(["tag", f"{other}-arm64", local], rootless=rootless).returncode == 0
        made = bed.crossbox(["create", "--arch", "arm64", "-i", ref, second], rootless=rootless)
        assert made.returncode == 0, made.stderr
        image_of = bed.podman(["container", "inspect", "--format", "{{.Image}}", second], rootless=rootless)
        now = bed.podman(["image", "inspect", "--format", "{{.Id}}", local], rootless=rootless)
        assert image_of.stdout.strip() == now.stdout.strip()
        ids = bed.podman(["ps", "--all", "--format", "{{.Names}}"], rootless=rootless).stdout.split()
        assert ids.count(second) == 1
        assert bed.crossbox(["run", "-c", second, "uname", "-m"], rootless=rootless).stdout.strip() == "aarch64"
    finally:
        bed.crossbox(["rm", "--force", first, second, f"{box}-o"], rootless=rootless)
