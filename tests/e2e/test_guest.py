"""The guest agent in real containers: sudo under emulation, user set-up, isolation."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest
from bed.bed import Bed


def make(bed: Bed, rootless: bool, box: str, image: str, arch: str = "arm64") -> None:
    made = bed.crossbox(["-y", "create", "--arch", arch, "-i", bed.images[image], box], rootless=rootless)
    assert made.returncode == 0, made.stderr


def test_sudo_works_for_an_ordinary_user_under_emulation(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "debian-arm64")
    if rootless:
        ran = bed.crossbox(["run", "-c", box, "sudo", "id", "-u"], rootless=True)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "0"
        who = bed.crossbox(["run", "-c", box, "id", "-un"], rootless=True)
        assert who.stdout.strip() == "tester"
    else:
        # Rootful containers are root's; an ordinary user made inside must get sudo too.
        script = ("useradd -m probe && echo 'probe ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/probe "
                  "&& su probe -c 'id -un; sudo id -u'")
        ran = bed.crossbox(["run", "-c", box, "sh", "-c", script])
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split() == ["probe", "0"]


def test_registration_inside_has_flags_pocf_and_the_host_has_none(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    entry = bed.crossbox(["run", "-c", box, "cat", "/proc/sys/fs/binfmt_misc/qemu-aarch64"], rootless=rootless)
    assert entry.returncode == 0, entry.stderr
    assert "enabled" in entry.stdout
    assert "flags: POCF" in entry.stdout  # FPC: argv[0] kept, binary opened, its credentials
    assert "interpreter /run/crossbox/bin/qemu-aarch64-static" in entry.stdout
    assert not os.path.exists("/proc/sys/fs/binfmt_misc/qemu-aarch64")


def test_user_home_and_working_directory_follow_the_host(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    ran = bed.crossbox(["run", "-c", box, "sh", "-c", "id -un; pwd; echo $HOME"], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    if rootless:
        assert ran.stdout.split() == ["tester", "/home/tester", "/home/tester"]
    else:
        assert ran.stdout.split() == ["root", "/root", "/root"]
    # (busybox's in-shell `cat` prints nothing under qemu-user 7.2, so cat runs on its own)
    marker = bed.crossbox(["run", "-c", box, "cat", "/run/.crossboxenv"], rootless=rootless)
    assert marker.stdout.split() == [f"container={box}", "arch=aarch64"]


def test_emulator_is_read_only_inside(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    ran = bed.crossbox(["run", "-c", box, "sh", "-c",
                        "echo x > /run/crossbox/bin/qemu-aarch64-static"], rootless=rootless)
    assert ran.returncode != 0
    assert "Read-only file system" in ran.stderr or "Permission denied" in ran.stderr
    still = bed.crossbox(["run", "-c", box, "uname", "-m"], rootless=rootless)
    assert still.stdout.strip() == "aarch64"


def test_plain_podman_arm64_container_still_gets_exec_format_error(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    assert bed.crossbox(["run", "-c", box, "true"], rootless=rootless).returncode == 0
    local = f"{bed.images['bb-arm64']}-arm64"
    plain = bed.podman(["run", "--rm", "--network", "host", "--arch", "arm64", local, "/bin/uname", "-m"],
                       rootless=rootless)
    assert plain.returncode != 0
    assert "exec format error" in plain.stderr


@pytest.fixture
def rootful_box(bed: Bed, name: str) -> Iterator[str]:
    yield name
    bed.crossbox(["rm", "--force", name])


def test_agent_refuses_the_host_user_namespace(bed: Bed, rootful_box: str) -> None:
    """The same container, run by hand with --userns=host: the agent must refuse to mount."""
    box = rootful_box
    make(bed, False, box, "bb-arm64")
    info = json.loads(bed.podman(["container", "inspect", box], check=True).stdout)[0]
    volumes = []
    for m in info["Mounts"]:
        if m["Destination"] == "/run/crossbox/state":
            continue
        volumes += ["--volume", f"{m['Source']}:{m['Destination']}:{'rw' if m['RW'] else 'ro'}"]
    entrypoint = info["Config"]["Entrypoint"]
    entrypoint = entrypoint[0] if isinstance(entrypoint, list) else entrypoint.split()[0]
    ran = bed.podman(["run", "--rm", "--privileged", "--userns=host", "--network", "host",
                      "--user", "0:0", *volumes, "--entrypoint", entrypoint,
                      info["ImageName"], *info["Config"]["Cmd"]])
    assert ran.returncode == 1, ran.stderr
    assert "refusing to mount binfmt_misc" in ran.stderr
    assert "host's user namespace" in ran.stderr


def test_enter_gives_an_interactive_shell_through_a_terminal(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-ppc64le", arch="ppc64le")
    term = bed.terminal(["enter", box], rootless=rootless, env={"TERM": "dumb"})
    try:
        term.expect(r"[$#] ")
        term.send("uname -m; tty; exit 3\n")
        assert term.wait() == 3
    finally:
        term.close()
    assert "ppc64le" in term.text
    assert "/dev/pts/" in term.text


def _process_states(bed: Bed, rootless: bool, box: str) -> list[str]:
    script = 'for f in /proc/[0-9]*/stat; do read l < "$f" && echo "$l"; done'
    ran = bed.crossbox(["run", "-c", box, "sh", "-c", script], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    return [line.rsplit(")", 1)[1].split()[0] for line in ran.stdout.splitlines() if ")" in line]


def test_agent_reaps_orphans_and_stops_cleanly_on_sigterm(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    # The shell exits at once; its background sleep is orphaned to the agent (PID 1).
    assert bed.crossbox(["run", "-c", box, "sh", "-c", "sleep 0.2 & exit 0"], rootless=rootless).returncode == 0
    deadline = time.monotonic() + 20
    states = _process_states(bed, rootless, box)
    while "Z" in states and time.monotonic() < deadline:
        time.sleep(0.5)
        states = _process_states(bed, rootless, box)
    assert "Z" not in states
    stopped = bed.podman(["stop", "--time", "60", box], rootless=rootless)
    assert stopped.returncode == 0, stopped.stderr
    code = bed.podman(["container", "inspect", "--format", "{{.State.ExitCode}}", box], rootless=rootless)
    assert code.stdout.strip() == "0"  # 137 would mean SIGKILL after the stop timeout
