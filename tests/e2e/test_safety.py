"""Safety: crossbox touches only what it made, a hostile image cannot steer the agent, and every bad
environment gets one clear line (rootful and rootless, real podman)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bed import images as bed_images
from bed import sh
from bed.bed import Bed


def make(bed: Bed, rootless: bool, box: str, image: str, arch: str = "arm64",
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return bed.crossbox(["-y", "create", "--arch", arch, "-i", bed.images[image], box], rootless=rootless, env=env)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("Pulling ")]
    assert len(lines) == 1 and lines[0].startswith("crossbox: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def state_base(bed: Bed, rootless: bool) -> Path:
    if rootless:
        assert bed.tester is not None
        return Path(bed.tester.runtime_dir) / "crossbox" / "containers"
    return Path("/run/crossbox/containers")


# -- a hostile image -----------------------------------------------------------------------------

@pytest.fixture
def victims() -> Iterator[dict[str, bytes]]:
    before = bed_images.make_victims()
    yield before
    assert bed_images.victims_now() == before, "a host file behind the hostile image's links changed"


def test_a_hostile_image_cannot_steer_the_agent(bed: Bed, rootless: bool, box: str,
                                                victims: dict[str, bytes]) -> None:
    """Links at every path the agent writes, a crossbox package and stdlib modules planted where it
    imports from, LD_PRELOAD in the image's environment and /etc/ld.so.preload naming a library
    that would end the agent: it starts normally and nothing planted runs."""
    made = make(bed, rootless, box, "hostile")
    assert made.returncode == 0, made.stderr
    ran = bed.crossbox(["run", "-c", box, "sh", "-c", "id -un; uname -m; cat /run/.crossboxenv"], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[:2] == ["tester" if rootless else "root", "aarch64"]
    assert f"container={box}" in ran.stdout
    # The paths the agent always writes are files of its own now; the others it never touched
    # (and the victims fixture proves no write went through any of them).
    always = ("/run/.toolboxenv", "/run/.toolbxenv", "/run/.crossboxenv", "/etc/hosts", "/etc/.pwd.lock")
    script = "; ".join(f"test -L {p} && echo {p}=link || echo {p}=file" for p in always)
    kinds = bed.crossbox(["run", "-c", box, "sh", "-c", script], rootless=rootless)
    assert kinds.stdout.split() == [f"{p}=file" for p in always], kinds.stdout
    if rootless:  # an ordinary user: /etc/sudoers.d links elsewhere, so the drop-in is left out, and said
        logs = bed.podman(["logs", box], rootless=rootless)
        assert "no passwordless sudo" in logs.stdout + logs.stderr
    sudoers_victim = Path(bed_images.VICTIM_DIR) / bed_images.victim_name("/etc/sudoers.d")
    assert list(sudoers_victim.iterdir()) == []


def test_run_host_stays_read_only_for_the_containers_root(bed: Bed, rootless: bool, box: str) -> None:
    assert make(bed, rootless, box, "debian-arm64").returncode == 0
    sudo = ["sudo"] if rootless else []
    target = Path("/etc") / f"crossbox-e2e-{box}"
    for attempt in (["mount", "-o", "remount,rw,bind", "/run/host"],
                    ["mount", "-o", "remount,rw", "/run/host/proc"],
                    ["mount", "-o", "remount,rw", "/run/host/sys"],
                    ["touch", f"/run/host{target}"]):
        ran = bed.crossbox(["run", "-c", box, *sudo, *attempt], rootless=rootless)
        assert ran.returncode != 0, (attempt, ran.stdout, ran.stderr)
    assert not target.exists()
    mounts = bed.crossbox(["run", "-c", box, "sh", "-c", "grep ' /run/host' /proc/self/mountinfo"], rootless=rootless)
    options = [line.split()[5] for line in mounts.stdout.splitlines()]
    assert options and all(o.split(",")[0] == "ro" for o in options), mounts.stdout


# -- crossbox removes only what it made ----------------------------------------------------------

def test_rmi_all_removes_only_what_crossbox_pulled(bed: Bed, name: str, tmp_path: Path) -> None:
    """In a storage of its own (the test user with another XDG_DATA_HOME: podman's storage and
    crossbox's record both live there), so that -a meets nothing of other tests'."""
    assert bed.tester is not None
    data = bed.workdir / f"data-{name}"  # the test user must reach it
    data.mkdir()
    sh.run(["chown", f"{bed.tester.uid}:{bed.tester.gid}", str(data)])
    env = {"XDG_DATA_HOME": str(data)}

    def podman(*args: str) -> subprocess.CompletedProcess[str]:
        return sh.run([*bed.tester.env({**bed.podman_env(), **env}), "podman", *args],  # type: ignore[union-attr]
                      check=False, cwd=bed.tester.home)  # type: ignore[union-attr]

    mine = "localhost/crossbox-e2e-webapp:dev-amd64"  # a user's image, named like crossbox's
    plain, box = f"{name}-plain", f"{name}-box"
    ours = f"{bed.images['bb-arm64']}-arm64"
    try:
        assert podman("pull", "-q", bed.images["bb-amd64"]).returncode == 0
        assert podman("tag", bed.images["bb-amd64"], mine).returncode == 0
        assert podman("create", "--name", plain, mine, "true").returncode == 0
        assert make(bed, True, box, "bb-arm64", env=env).returncode == 0
        busy = bed.crossbox(["rmi", "-a"], rootless=True, env=env)
        assert busy.returncode == 6, busy.stderr
        assert f"used by container(s) {box}" in one_line(busy.stderr)
        done = bed.crossbox(["rmi", "-a", "-f"], rootless=True, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [ours]
        assert podman("image", "exists", ours).returncode == 1
        assert podman("container", "exists", box).returncode == 1
        # The user's own image, its other name and its container are all there.
        assert podman("image", "exists", mine).returncode == 0
        assert podman("image", "exists", bed.images["bb-amd64"]).returncode == 0
        assert podman("container", "exists", plain).returncode == 0
        untag = bed.crossbox(["rmi", "-f", mine], rootless=True, env=env)
        assert untag.returncode == 0, untag.stderr  # another name remains: only this tag goes
        assert podman("container", "exists", plain).returncode == 0
        assert podman("image", "exists", bed.images["bb-amd64"]).returncode == 0
    finally:
        podman("rm", "-f", plain, box)
        podman("rmi", "-a", "-f")


def test_a_plain_container_on_an_image_blocks_its_removal_and_is_named(bed: Bed, rootless: bool, box: str) -> None:
    # An image of its own: one that another name also holds (another bed's, a benchmark's) would
    # only lose this name, rightly, and the refusal under test would never be reached.
    ref = f"{bed.registry.address}/{bed.unique_image('s390x')}"
    ours = f"{ref}-s390x"
    plain = f"{box}-plain"
    made = bed.crossbox(["-y", "create", "--arch", "s390x", "-i", ref, box], rootless=rootless)
    assert made.returncode == 0, made.stderr
    assert bed.podman(["create", "--name", plain, ours, "true"], rootless=rootless).returncode == 0
    try:
        refused = bed.crossbox(["rmi", "-f", ours], rootless=rootless)
        assert refused.returncode == 6
        assert f"used by {plain}, which crossbox did not make" in one_line(refused.stderr)
        assert bed.podman(["container", "exists", box], rootless=rootless).returncode == 0
        assert bed.podman(["container", "exists", plain], rootless=rootless).returncode == 0
    finally:
        bed.podman(["rm", "-f", plain], rootless=rootless)
        bed.crossbox(["rm", "-f", box], rootless=rootless)
        bed.podman(["rmi", ours], rootless=rootless)


def test_an_interrupted_pull_never_takes_what_a_concurrent_create_made(bed: Bed, name: str) -> None:
    """B's pull is held at the registry; A, the same image, waits for B's pull lock; B is
    interrupted and keeps nothing; A then pulls, creates and runs; A's box and image stay."""
    assert bed.proxy is not None
    ref = f"{bed.proxy.address}/{bed.unique_image()}"
    local = f"{ref}-arm64"
    box_a, box_b = f"{name}-a", f"{name}-b"
    before = bed.proxy.injected
    bed.proxy.set("stall")
    try:
        b = subprocess.Popen(bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", ref, box_b]),
                             env=bed.root_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while bed.proxy.injected == before and time.monotonic() < deadline:
            time.sleep(0.05)
        a = subprocess.Popen(bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", ref, box_a]),
                             env=bed.root_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert a.poll() is None  # waiting for B's pull
        b.send_signal(signal.SIGINT)
        _, b_err = b.communicate(timeout=60)
        bed.proxy.set(None)
        bed.proxy.release()
        _, a_err = a.communicate(timeout=300)
    finally:
        bed.proxy.set(None)
        bed.proxy.release()
    try:
        assert b.returncode == 130, b_err
        assert "Waiting for another crossbox that pulls" in a_err
        assert a.returncode == 0, a_err
        ran = bed.crossbox(["run", "-c", box_a, "uname", "-m"])
        assert ran.stdout.strip() == "aarch64", ran.stderr
        assert bed.podman(["container", "exists", box_b]).returncode == 1
        assert bed.podman(["image", "exists", local]).returncode == 0
    finally:
        for box in (box_a, box_b):
            bed.crossbox(["rm", "--force", box])
        bed.podman(["rmi", local])


def test_sigkill_of_crossbox_takes_its_skopeo_along(bed: Bed, name: str) -> None:
    assert bed.proxy is not None
    ref = f"{bed.proxy.address}/{bed.unique_image()}"
    before = bed.proxy.injected
    bed.proxy.set("stall")
    try:
        proc = subprocess.Popen(bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", ref, name]),
                                env=bed.root_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while bed.proxy.injected == before and time.monotonic() < deadline:
            time.sleep(0.05)
        copies = sh.run(["pgrep", "-f", f"skopeo .*copy .*{ref}"], check=False).stdout.split()
        assert copies, "no skopeo copy seen"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sh.run(["pgrep", "-f", f"skopeo .*copy .*{ref}"],
                                                     check=False).stdout.split():
            time.sleep(0.1)
        assert sh.run(["pgrep", "-f", f"skopeo .*copy .*{ref}"], check=False).stdout.split() == []
    finally:
        bed.proxy.set(None)
        bed.proxy.release()
    assert bed.podman(["image", "exists", f"{ref}-arm64"]).returncode == 1


# -- state directories ---------------------------------------------------------------------------

def test_no_state_directory_for_a_missing_or_plain_container(bed: Bed, rootless: bool, name: str) -> None:
    base = state_base(bed, rootless)
    missing = bed.crossbox(["run", "-c", name, "true"], rootless=rootless)
    assert missing.returncode == 125 and f"container {name} not found" in missing.stderr
    assert not (base / name).exists()
    missing = bed.crossbox(["enter", name], rootless=rootless)
    assert missing.returncode == 125 and f"container {name} not found" in missing.stderr
    assert not (base / name).exists()
    plain = f"{name}-plain"
    assert bed.podman(["create", "--name", plain, bed.images["bb-amd64"], "true"], rootless=rootless).returncode == 0
    try:
        refused = bed.crossbox(["run", "-c", plain, "true"], rootless=rootless)
        assert refused.returncode == 125 and "was not made by crossbox" in refused.stderr
        assert not (base / plain).exists()
        taken = make(bed, rootless, plain, "bb-arm64")  # a create that fails with a conflict
        assert taken.returncode == 6 and "already exists" in taken.stderr, taken.stderr
        assert not (base / plain).exists()
    finally:
        bed.podman(["rm", "-f", plain], rootless=rootless)
        bed.podman(["rmi", bed.images["bb-amd64"]], rootless=rootless)


def test_a_state_directory_left_by_podman_rm_is_pruned_by_list(bed: Bed, rootless: bool, box: str) -> None:
    assert make(bed, rootless, box, "bb-arm64").returncode == 0
    assert bed.crossbox(["run", "-c", box, "true"], rootless=rootless).returncode == 0
    assert (state_base(bed, rootless) / box).exists()
    assert bed.podman(["rm", "-f", box], rootless=rootless).returncode == 0
    assert bed.crossbox(["list"], rootless=rootless).returncode == 0
    assert not (state_base(bed, rootless) / box).exists()


def test_after_a_rename_the_hot_path_never_execs_into_another_container(bed: Bed, box: str) -> None:
    assert make(bed, False, box, "bb-arm64").returncode == 0
    assert bed.crossbox(["run", "-c", box, "true"]).returncode == 0
    moved = f"{box}-moved"
    try:
        assert bed.podman(["rename", box, moved]).returncode == 0
        assert bed.podman(["create", "--name", box, bed.images["bb-amd64"], "sleep", "60"]).returncode == 0
        assert bed.podman(["start", box]).returncode == 0
        ran = bed.crossbox(["run", "-c", box, "cat", "/run/.crossboxenv"])
        # Either the box crossbox made under that name (by its recorded id), or a refusal: never
        # the plain container that now holds the name.
        assert ran.returncode in (0, 125), ran.stderr
        if ran.returncode == 0:
            assert f"container={box}" in ran.stdout
        else:
            assert "was not made by crossbox" in ran.stderr
    finally:
        bed.podman(["rm", "-f", box])
        bed.crossbox(["rm", "--force", moved])
        bed.podman(["rmi", bed.images["bb-amd64"]])


def test_after_a_rename_a_cold_start_never_starts_another_container(bed: Bed, rootless: bool, box: str) -> None:
    """A box this host has started is started from its recorded configuration, by podman's own
    check that the name is still that box: a stopped plain container that took the name is left
    as it is, and so is the renamed box."""
    assert make(bed, rootless, box, "bb-arm64").returncode == 0
    assert bed.crossbox(["run", "-c", box, "true"], rootless=rootless).returncode == 0
    moved = f"{box}-moved"

    def states() -> list[str]:
        return bed.podman(["container", "inspect", "--format", "{{.Name}} {{.State.Status}}", box, moved],
                          rootless=rootless).stdout.split("\n")

    try:
        assert bed.podman(["stop", "--time", "0", box], rootless=rootless).returncode == 0
        assert bed.podman(["rename", box, moved], rootless=rootless).returncode == 0
        assert bed.podman(["create", "--name", box, bed.images["bb-amd64"], "sleep", "60"],
                          rootless=rootless).returncode == 0
        ran = bed.crossbox(["run", "-c", box, "true"], rootless=rootless)
        assert ran.returncode == 125 and "was not made by crossbox" in ran.stderr, (ran.returncode, ran.stderr)
        assert states()[:2] == [f"{box} created", f"{moved} exited"]
        # Its own name back, the box starts again (the record is its own).
        assert bed.podman(["rm", "-f", box], rootless=rootless).returncode == 0
        assert bed.podman(["rename", moved, box], rootless=rootless).returncode == 0
        again = bed.crossbox(["run", "-c", box, "cat", "/run/.crossboxenv"], rootless=rootless)
        assert again.returncode == 0 and f"container={box}" in again.stdout, again.stderr
    finally:
        bed.podman(["rm", "-f", box], rootless=rootless)
        bed.crossbox(["rm", "--force", moved], rootless=rootless)
        bed.crossbox(["rm", "--force", box], rootless=rootless)
        bed.podman(["rmi", bed.images["bb-amd64"]], rootless=rootless)


# -- bad environments and inputs: one line each, a distinct status, nothing made -----------------

BAD_ENV = [
    # (id, environment, status of create, words of the one line); settings are read where they are
    # used: the registry's limit by a pull (a fresh image), the ready limit by a start
    ("runtime-dir-missing", {"XDG_RUNTIME_DIR": "/nonexistent/run"}, 4, "is not a directory you own and can write"),
    ("ready-timeout-nan", {"CROSSBOX_READY_TIMEOUT": "nan"}, None, "CROSSBOX_READY_TIMEOUT='nan' is invalid"),
    ("registry-timeout-inf", {"CROSSBOX_REGISTRY_TIMEOUT": "inf"}, 3, "CROSSBOX_REGISTRY_TIMEOUT='inf' is invalid"),
    ("guest-python-missing", {"CROSSBOX_GUEST_PYTHON": "/nonexistent/python3", "CROSSBOX_NO_CACHE": "1"}, 4,
     "is not an executable file"),
    ("guest-python-not-elf", {"CROSSBOX_GUEST_PYTHON": "/usr/bin/ldd", "CROSSBOX_NO_CACHE": "1"}, 4,
     "is not a readable ELF executable"),
    ("home-with-colon", {"HOME": "/tmp/crossbox-e2e:home"}, 3, "holds ':' or a newline"),
    ("home-is-usr", {"HOME": "/usr"}, 3, "HOME=/usr is a system directory"),
    ("home-is-root", {"HOME": "/"}, 3, "HOME=/ is a system directory"),
    ("home-is-etc", {"HOME": "/etc"}, 3, "HOME=/etc is a system directory"),
    ("runtime-dir-not-own", {"XDG_RUNTIME_DIR": "/usr"}, 4, "is not a directory you own and can write"),
]


@pytest.mark.parametrize(("env", "status", "words"), [c[1:] for c in BAD_ENV], ids=[c[0] for c in BAD_ENV])
def test_a_bad_environment_is_one_clear_line(bed: Bed, name: str, env: dict[str, str], status: int | None,
                                             words: str) -> None:
    """Rootless (the environment of the test user); nothing is made."""
    os.makedirs("/tmp/crossbox-e2e:home", exist_ok=True)
    if "CROSSBOX_REGISTRY_TIMEOUT" in env:
        assert bed.proxy is not None
        made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", f"{bed.registry.address}/{bed.unique_image()}",
                             name], rootless=True, env=env)
    else:
        made = make(bed, True, name, "bb-arm64", env=env)
    try:
        if status is None:  # a setting only `run` reads
            assert made.returncode == 0, made.stderr
            ran = bed.crossbox(["run", "-c", name, "true"], rootless=True, env=env)
            assert ran.returncode == 125
            assert words in one_line(ran.stderr)
            return
        assert made.returncode == status, made.stderr
        assert words in one_line(made.stderr)
        assert bed.podman(["container", "exists", name], rootless=True).returncode == 1
    finally:
        bed.crossbox(["rm", "--force", name], rootless=True)


def test_a_full_file_system_under_the_state_directory_is_one_clear_line(bed: Bed, name: str) -> None:
    """Rootful: a full tmpfs over /run/crossbox (its state directories) for the length of one create."""
    sh.run(["mount", "-t", "tmpfs", "-o", "size=4k,nr_inodes=3,mode=0700", "tmpfs", "/run/crossbox"])
    try:
        os.mkdir("/run/crossbox/containers", 0o700)
        with open("/run/crossbox/fill", "wb") as f:
            f.write(b"x" * 4096)
        made = make(bed, False, name, "bb-arm64")
        assert made.returncode == 4, made.stderr
        assert "no space left on the device" in one_line(made.stderr)
    finally:
        sh.run(["umount", "/run/crossbox"], check=False)
    assert bed.podman(["container", "exists", name]).returncode == 1


@pytest.mark.parametrize(("args", "status", "words"), [
    (["x" * 201], 3, "is 201 characters long; the limit is 200"),
    (["--arch", "arm64", "-i", "127.0.0.1:1/a:" + "t" * 125], 3, "tags are at most 128"),
])
def test_names_and_tags_over_their_limits_are_named(bed: Bed, args: list[str], status: int, words: str) -> None:
    if args[0].startswith("x"):
        args = ["--arch", "arm64", "-i", bed.images["bb-arm64"], *args]
    done = bed.crossbox(["-y", "create", *args])
    assert done.returncode == status, done.stderr
    assert words in one_line(done.stderr)


def test_an_authfile_of_invalid_json_is_invalid_input(bed: Bed, name: str, tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text("{not json")
    done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], "--authfile", str(auth),
                         name])
    assert done.returncode == 3, done.stderr
    assert "is not the JSON of an auth.json" in one_line(done.stderr)


def test_a_registry_that_never_answers_is_named_within_the_timeout(bed: Bed, name: str) -> None:
    assert bed.proxy is not None
    ref = f"{bed.proxy.address}/{bed.unique_image()}"
    bed.proxy.set("stall")
    try:
        started = time.monotonic()
        done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, name],
                            env={"CROSSBOX_REGISTRY_TIMEOUT": "3"})
        took = time.monotonic() - started
    finally:
        bed.proxy.set(None)
        bed.proxy.release()
    assert done.returncode == 7, done.stderr
    line = one_line(done.stderr)
    assert bed.proxy.address in line
    assert took < 60


def test_a_corrupt_probe_cache_is_rebuilt(bed: Bed, rootless: bool, box: str) -> None:
    assert bed.tester is not None
    cache = Path(bed.tester.home if rootless else "/root") / ".cache" / "crossbox" / "probes.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"version": "0.1.0", "entries": ["not", "a", "map"]}))
    if rootless:
        sh.run(["chown", "-R", f"{bed.tester.uid}:{bed.tester.gid}", str(cache.parent.parent)])
    made = make(bed, rootless, box, "bb-arm64")
    assert made.returncode == 0, made.stderr


def test_a_deleted_working_directory_starts_in_the_home(bed: Bed, box: str, tmp_path: Path) -> None:
    assert make(bed, False, box, "bb-arm64").returncode == 0
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f'cd {gone} && rmdir {gone} && exec "$@"'
    done = sh.run(["sh", "-c", script, "sh", *bed.crossbox_argv(["run", "-c", box, "pwd"])], check=False,
                  env=bed.root_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "/root"
    assert "the current directory no longer exists" in done.stderr
