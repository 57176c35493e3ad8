"""Bad input, registry faults, interruption and concurrency: clear errors, nothing lost.

Every case checks the same promises: one sentence on stderr (no traceback), a
documented exit status, no container and nothing under the local image name
left behind, and (through the autouse fixture) the host's binfmt_misc unchanged.
RELIABILITY.md lists each case with the test that proves it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bed import sh
from bed.bed import Bed


def assert_one_clean_line(stderr: str) -> None:
    """One error sentence, last; before it at most the plain progress line of a pull."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("crossbox: error: "), stderr
    assert all(line.startswith("Pulling ") for line in lines[:-1]), stderr
    assert "Traceback" not in stderr


def assert_nothing_left(bed: Bed, name: str, local: str | None, rootless: bool = False) -> None:
    assert bed.podman(["container", "exists", name], rootless=rootless).returncode == 1
    if local:
        assert bed.podman(["image", "exists", local], rootless=rootless).returncode == 1
    base = "/run/crossbox/containers" if not rootless else f"{bed.tester.runtime_dir}/crossbox/containers"  # type: ignore[union-attr]
    assert not os.path.exists(os.path.join(base, name))


@pytest.fixture
def cleanup(bed: Bed) -> Iterator[list[tuple[str, bool]]]:
    names: list[tuple[str, bool]] = []
    yield names
    for n, rootless in names:
        bed.crossbox(["rm", "--force", n], rootless=rootless)
        bed.podman(["rm", "-f", n], rootless=rootless)


# -- bad input ------------------------------------------------------------------

BAD_CREATE = [
    # (id, args (IMG = a good single-arch arm64 image), status, words in the message)
    ("empty-arch", ["--arch", "", "-i", "IMG"], 3, "an empty name is not a supported architecture"),
    ("unknown-arch", ["--arch", "sparc9", "-i", "IMG"], 3, "'sparc9' is not a supported architecture"),
    ("metachar-arch", ["--arch", "arm64; touch /tmp/pwned", "-i", "IMG"], 3,
     "'arm64; touch /tmp/pwned' is not a supported architecture"),
    ("malformed-image", ["--arch", "arm64", "-i", "REG/bad//name:1"], 3, "is malformed"),
    ("upper-case-image", ["--arch", "arm64", "-i", "REG/BB:arm64"], 3, "has upper-case letters"),
    ("digest-image", ["--arch", "arm64", "-i", "REG/bb@sha256:" + "0" * 64], 3, "is a digest reference"),
    ("unknown-tag", ["--arch", "arm64", "-y", "-i", "REG/bb:no-such-tag"], 7, "does not exist in its registry"),
    ("silent-registry", ["--arch", "arm64", "-y", "-i", "127.0.0.1:1/bb:arm64"], 7, "did not answer properly"),
    ("transport-image", ["--arch", "arm64", "-i", "docker://REG/bb:arm64"], 3, "must not carry a transport"),
    ("image-and-distro", ["--distro", "fedora", "-i", "IMG"], 3, "--image cannot be combined"),
    ("unknown-distro", ["--distro", "gentoo"], 3, "'gentoo' is not a distribution crossbox knows"),
    ("bad-release", ["--distro", "fedora", "--release", "x; ls"], 3, "is not a release of fedora"),
    ("missing-authfile", ["--arch", "arm64", "-y", "-i", "IMG", "--authfile", "/nonexistent/auth.json"], 3,
     "the authfile /nonexistent/auth.json does not exist"),
    ("wrong-arch-single", ["--arch", "ppc64le", "-y", "-i", "IMG"], 7,
     "is a single-architecture image for arm64, but ppc64le was requested"),
    ("arch-not-in-index", ["--arch", "s390x", "-y", "-i", "REG/nos390x:latest"], 7, "has no image for s390x"),
]


@pytest.mark.parametrize(("args", "status", "words"), [c[1:] for c in BAD_CREATE], ids=[c[0] for c in BAD_CREATE])
def test_bad_create_input_is_refused_cleanly(bed: Bed, rootless: bool, name: str, args: list[str],
                                             status: int, words: str) -> None:
    reg, img = bed.registry.address, bed.images["bb-arm64"]
    real = [a.replace("IMG", img).replace("REG", reg) for a in args]
    done = bed.crossbox(["create", *real, name], rootless=rootless)
    assert done.returncode == status, done.stderr
    assert words in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, None, rootless)
    for suffix in ("arm64", "ppc64le", "s390x"):
        assert bed.podman(["image", "exists", f"{img}-{suffix}"], rootless=rootless).returncode in (0, 1)
    assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize("bad", ["bad name", "-leading", "a/b", "semi;colon", "x" * 300, "$(id)"])
def test_invalid_container_names_are_refused(bed: Bed, bad: str) -> None:
    done = bed.crossbox(["create", "--arch", "arm64", "-i", bed.images["bb-arm64"], bad])
    assert done.returncode in (2, 3), done.stderr
    if done.returncode == 3:
        assert "is invalid" in done.stderr or "the limit is 200" in done.stderr
        assert_one_clean_line(done.stderr)


def test_unreadable_authfile_is_refused_rootless(bed: Bed, name: str) -> None:
    auth = bed.workdir / f"{name}-auth.json"  # in a directory the test user may enter
    auth.write_text("{}")
    auth.chmod(0o600)  # root's; the test user cannot read it
    done = bed.crossbox(["create", "--arch", "arm64", "-y", "-i", bed.images["bb-arm64"], "--authfile",
                         str(auth), name], rootless=True)
    assert done.returncode == 3
    assert f"the authfile {auth} cannot be read" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, None, True)


def _emulator_dir(tmp_path: Path, kind: str) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    target = d / "qemu-aarch64-static"
    if kind == "script":
        target.write_text('#!/bin/sh\nexec /usr/bin/qemu-aarch64-static "$@"\n')
        target.chmod(0o755)
    elif kind == "dynamic":
        target.symlink_to("/usr/bin/podman")
    elif kind == "not-executable":
        shutil.copy("/usr/bin/qemu-aarch64-static", target)
        target.chmod(0o644)
    elif kind == "wrong-machine":
        shutil.copy("/usr/bin/qemu-aarch64-static", target)
        with open(target, "r+b") as f:  # e_machine of an aarch64 ELF, in a real qemu binary
            f.seek(18)
            f.write((183).to_bytes(2, "little"))
    return d


@pytest.mark.parametrize(("kind", "words"), [
    ("script", "is not a statically linked ELF executable: it is a script"),
    ("dynamic", "is dynamically linked"),
    ("not-executable", "is not executable"),
    ("wrong-machine", "not for this x86_64 host"),
])
def test_unfit_emulator_is_refused_before_anything_is_pulled(bed: Bed, name: str, tmp_path: Path,
                                                              kind: str, words: str) -> None:
    img = bed.images["nos390x"]
    env = {"PATH": f"{_emulator_dir(tmp_path, kind)}:/usr/local/bin:/usr/bin:/bin"}
    done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", img, name], env=env)
    assert done.returncode == 4, done.stderr
    assert words in done.stderr
    assert "run `crossbox doctor --arch arm64` for details" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, f"{img}-arm64")


def test_missing_emulator_is_refused(bed: Bed, name: str) -> None:
    """qemu-aarch64-static hidden from this one command, in a private mount namespace."""
    img = bed.images["nos390x"]
    argv = bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", img, name])
    script = ("mount --bind /dev/null /usr/bin/qemu-aarch64-static && mount --bind /dev/null "
              "/usr/bin/qemu-aarch64 2>/dev/null; exec \"$@\"")
    done = sh.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
                  check=False, env=bed.root_env())
    assert done.returncode == 4, done.stderr
    assert "no qemu-aarch64-static or qemu-aarch64 was found" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, f"{img}-arm64")


def _path_without(tmp_path: Path, missing: str) -> str:
    d = tmp_path / "path"
    d.mkdir()
    for tool in ("podman", "skopeo", "qemu-aarch64-static", "runc", "conmon", "newuidmap", "newgidmap"):
        real = shutil.which(tool)
        if tool != missing and real:
            (d / tool).symlink_to(real)
    return str(d)


def test_missing_podman_is_refused(bed: Bed, name: str, tmp_path: Path) -> None:
    done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], name],
                        env={"PATH": _path_without(tmp_path, "podman")})
    assert done.returncode == 4, done.stderr
    assert "podman was not found on PATH" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, None)


def test_missing_skopeo_is_refused_only_for_a_foreign_pull(bed: Bed, name: str, tmp_path: Path,
                                                           cleanup: list[tuple[str, bool]]) -> None:
    img = bed.images["nos390x"]
    path = _path_without(tmp_path, "skopeo")
    done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", img, name], env={"PATH": path})
    assert done.returncode == 4, done.stderr
    assert "skopeo was not found on PATH; it is needed to pull an image of a foreign architecture" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, f"{img}-arm64")
    native = f"{name}-native"
    cleanup.append((native, False))
    made = bed.crossbox(["-y", "create", "-i", img, native], env={"PATH": path})
    assert made.returncode == 0, made.stderr


def test_old_kernel_is_refused_through_the_seam(bed: Bed, name: str) -> None:
    img = bed.images["nos390x"]
    done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", img, name],
                        env={"CROSSBOX_TEST_KERNEL_RELEASE": "6.6.30-generic"})
    assert done.returncode == 4, done.stderr
    assert "Linux 6.6.30-generic is older than 6.7" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, f"{img}-arm64")


def test_binfmt_misc_not_mountable_gives_one_clear_line(bed: Bed, name: str,
                                                       cleanup: list[tuple[str, bool]]) -> None:
    """The agent in a container without privileges: mounting binfmt_misc fails, and it says why."""
    cleanup.append((name, False))
    assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], name]).returncode == 0
    info = json.loads(bed.podman(["container", "inspect", name], check=True).stdout)[0]
    volumes = []
    for m in info["Mounts"]:
        if m["Destination"] in ("/run/crossbox/state", "/dev"):
            continue
        volumes += ["--volume", f"{m['Source']}:{m['Destination']}:{'rw' if m['RW'] else 'ro'}"]
    entry = info["Config"]["Entrypoint"]
    entry = entry[0] if isinstance(entry, list) else entry.split()[0]
    ran = bed.podman(["run", "--rm", "--userns=auto", "--network", "host", "--user", "0:0", *volumes,
                      "--entrypoint", entry, info["ImageName"], *info["Config"]["Cmd"]])
    assert ran.returncode == 1, ran.stderr
    lines = [line for line in ran.stderr.splitlines() if line.startswith("crossbox-guest:")]
    assert len(lines) == 1, ran.stderr
    assert "mounting a private binfmt_misc failed" in lines[0]
    assert "needs Linux >= 6.7 and a privileged container" in lines[0]


# -- registry faults ------------------------------------------------------------

@pytest.mark.parametrize("fault", ["500", "cut", "stall"])
def test_registry_fault_fails_cleanly_and_a_retry_succeeds(bed: Bed, name: str, fault: str,
                                                          cleanup: list[tuple[str, bool]]) -> None:
    assert bed.proxy is not None
    ref = f"{bed.proxy.address}/{bed.unique_image()}"
    local = f"{ref}-arm64"
    before = bed.proxy.injected
    bed.proxy.set(fault)
    try:
        env = {"CROSSBOX_REGISTRY_TIMEOUT": "8"}
        done = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, name], env=env)
    finally:
        bed.proxy.set(None)
        bed.proxy.release()
    assert bed.proxy.injected > before
    assert done.returncode == 7, done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, local)
    cleanup.append((name, False))
    retry = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, name])
    assert retry.returncode == 0, retry.stderr
    assert bed.crossbox(["run", "-c", name, "uname", "-m"]).stdout.strip() == "aarch64"
    bed.crossbox(["rm", "--force", name])
    bed.podman(["rmi", "--force", local])


# -- interruption ---------------------------------------------------------------

SIGNALS = [("SIGINT", signal.SIGINT, 130), ("SIGTERM", signal.SIGTERM, 143)]


def _wait_for(cond: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize(("signame", "signum", "status"), SIGNALS, ids=[s[0] for s in SIGNALS])
def test_interrupted_pull_keeps_nothing_and_a_rerun_succeeds(bed: Bed, name: str, signame: str,
                                                             signum: int, status: int,
                                                             cleanup: list[tuple[str, bool]]) -> None:
    assert bed.proxy is not None
    ref = f"{bed.proxy.address}/{bed.unique_image()}"
    local = f"{ref}-arm64"
    before = bed.proxy.injected
    bed.proxy.set("stall")
    try:
        proc = subprocess.Popen(bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", ref, name]),
                                env=bed.root_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: bed.proxy.injected > before)  # type: ignore[union-attr]
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        bed.proxy.set(None)
        bed.proxy.release()
    assert proc.returncode == status, err
    assert "was interrupted; nothing was kept" in err
    assert "Traceback" not in err
    assert_nothing_left(bed, name, local)
    cleanup.append((name, False))
    again = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", ref, name])
    assert again.returncode == 0, again.stderr
    bed.crossbox(["rm", "--force", name])
    bed.podman(["rmi", "--force", local])


def _slow_podman(tmp_path: Path, verb: str) -> tuple[str, Path]:
    """A podman first on PATH that announces a `verb`, waits 2 s, then runs the real podman."""
    d = tmp_path / "slow"
    d.mkdir()
    marker = tmp_path / "started"
    real = shutil.which("podman")
    (d / "podman").write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" {verb} "*) touch {marker}; sleep 2;; esac\n'
        f'exec {real} "$@"\n')
    (d / "podman").chmod(0o755)
    return f"{d}:{os.environ.get('PATH', '/usr/bin:/bin')}", marker


@pytest.mark.parametrize(("signame", "signum", "status"), SIGNALS, ids=[s[0] for s in SIGNALS])
def test_interrupted_create_leaves_no_container_and_a_rerun_succeeds(bed: Bed, name: str, tmp_path: Path,
                                                                     signame: str, signum: int, status: int,
                                                                     cleanup: list[tuple[str, bool]]) -> None:
    cleanup.append((name, False))
    img = bed.images["bb-arm64"]
    args = ["-y", "create", "--arch", "arm64", "-i", img, name]
    path, marker = _slow_podman(tmp_path, "create")
    proc = subprocess.Popen(bed.crossbox_argv(args), env=bed.root_env({"PATH": path}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(marker.exists)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert_nothing_left(bed, name, None)
    again = bed.crossbox(args)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(("signame", "signum", "status"), SIGNALS, ids=[s[0] for s in SIGNALS])
def test_interrupted_readiness_wait_leaves_a_container_that_becomes_ready(
        bed: Bed, name: str, signame: str, signum: int, status: int,
        cleanup: list[tuple[str, bool]]) -> None:
    """The agent is held at /etc/.pwd.lock (taken from the host) while crossbox waits for it."""
    cleanup.append((name, False))
    assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], name]).returncode == 0
    merged = bed.podman(["mount", name], check=True).stdout.strip()
    uid_map = json.loads(bed.podman(["container", "inspect", "--format", "{{json .HostConfig.IDMappings}}",
                                     name], check=True).stdout)["UidMap"][0]
    root_on_host = int(uid_map.split(":")[1])
    lock_path = os.path.join(merged, "etc", ".pwd.lock")
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    os.chown(lock_path, root_on_host, root_on_host)  # the agent (container root) must open it
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen(bed.crossbox_argv(["run", "-c", name, "uname", "-m"]), env=bed.root_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        state = Path("/run/crossbox/containers") / name / "box"
        _wait_for(lambda: (state / "ready").exists() and bed.podman(
            ["container", "inspect", "--format", "{{.State.Running}}", name]).stdout.strip() == "true")
        time.sleep(0.5)
        assert proc.poll() is None, "crossbox did not wait for the held agent"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        fcntl.lockf(lock, fcntl.LOCK_UN)
        os.close(lock)
        bed.podman(["umount", name])
    assert proc.returncode == status, err
    assert "Traceback" not in err
    again = bed.crossbox(["run", "-c", name, "uname", "-m"])
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "aarch64"


# -- concurrency ----------------------------------------------------------------

def test_two_creates_of_one_name_at_once_exactly_one_wins(bed: Bed, name: str,
                                                         cleanup: list[tuple[str, bool]]) -> None:
    img = bed.images["bb-arm64"]
    assert bed.crossbox(["-y", "create", "--arch", "arm64", "-i", img, f"{name}-warm"]).returncode == 0
    cleanup.append((f"{name}-warm", False))
    for round_ in range(5):
        box = f"{name}-{round_}"
        cleanup.append((box, False))
        procs = [subprocess.Popen(bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", img, box]),
                                  env=bed.root_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        results = [(p.wait(120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 6], results
        loser = next(err for code, err in results if code == 6)
        assert f"container {box} already exists" in loser
        assert bed.crossbox(["run", "-c", box, "uname", "-m"]).stdout.strip() == "aarch64"


def test_two_runs_into_one_stopped_container_register_once(bed: Bed, name: str,
                                                          cleanup: list[tuple[str, bool]]) -> None:
    cleanup.append((name, False))
    made = bed.crossbox(["--log-level", "debug", "-y", "create", "--arch", "arm64", "-i",
                         bed.images["bb-arm64"], name])
    assert made.returncode == 0, made.stderr
    for _ in range(3):
        bed.podman(["stop", name])
        logs_before = bed.podman(["logs", name]).stderr.count("registered binfmt entry")
        procs = [subprocess.Popen(bed.crossbox_argv(["run", "-c", name, "uname", "-m"]), env=bed.root_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert [o.strip() for o, _ in outs] == ["aarch64", "aarch64"]
        logs = bed.podman(["logs", name])
        text = logs.stdout + logs.stderr
        assert text.count("registered binfmt entry") - logs_before == 1, text
        assert "EEXIST" not in text and "File exists" not in text


def test_twenty_stop_start_cycles_register_each_time_and_leak_nothing(bed: Bed, name: str,
                                                                      cleanup: list[tuple[str, bool]]) -> None:
    cleanup.append((name, False))
    made = bed.crossbox(["--log-level", "debug", "-y", "create", "--arch", "arm64", "-i",
                         bed.images["bb-arm64"], name])
    assert made.returncode == 0, made.stderr
    state = Path("/run/crossbox/containers") / name
    for cycle in range(20):
        ran = bed.crossbox(["run", "-c", name, "uname", "-m"])
        assert ran.returncode == 0 and ran.stdout.strip() == "aarch64", (cycle, ran.stderr)
        # The start's record of the box's configuration is one file, rewritten in place.
        assert sorted(p.name for p in state.iterdir()) == ["box", "id", "inspected.json", "start.lock"]
        # The ready FIFO is gone; what stays is the agent's: alive lock, control FIFO, session files.
        assert sorted(p.name for p in (state / "box").iterdir()) == ["alive", "control", "session.env"]
        stopped = bed.podman(["stop", "--time", "30", name])
        assert stopped.returncode == 0
        code = bed.podman(["container", "inspect", "--format", "{{.State.ExitCode}}", name]).stdout.strip()
        assert code == "0", f"cycle {cycle}: the agent did not stop cleanly (exit {code})"
    logs = bed.podman(["logs", name])
    assert (logs.stdout + logs.stderr).count("registered binfmt entry") == 20
    conmons = sh.run(["pgrep", "-f", f"conmon .*-n {name} "], check=False).stdout.split()
    assert conmons == []
    threading.enumerate()  # (no threads are started by this test; nothing to join)


def test_a_list_in_another_storage_keeps_a_stopped_boxs_state(bed: Bed, name: str, tmp_path: Path,
                                                                 cleanup: list[tuple[str, bool]]) -> None:
    """State directories of all podman storages share one place: a `crossbox list` (which
    prunes the state of containers that are gone) under another CONTAINERS_STORAGE_CONF must
    not take the state of a stopped box it cannot see; the box starts again afterwards."""
    cleanup.append((name, False))
    made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], name])
    assert made.returncode == 0, made.stderr
    assert bed.crossbox(["run", "-c", name, "true"]).returncode == 0
    assert bed.podman(["stop", name]).returncode == 0
    other = tmp_path / "other-storage"
    other.mkdir()
    other.chmod(0o755)
    (other / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{other / "graph"}"\nrunroot = "{other / "run"}"\n')
    listed = bed.crossbox(["list", "--format", "json"], env={"CONTAINERS_STORAGE_CONF": str(other / "storage.conf")})
    assert listed.returncode == 0, listed.stderr
    assert name not in listed.stdout  # that storage does not hold the box
    assert (Path("/run/crossbox/containers") / name / "id").exists()
    ran = bed.crossbox(["run", "-c", name, "uname", "-m"])
    assert (ran.returncode, ran.stdout.strip()) == (0, "aarch64"), ran.stderr
    # (vfs: an empty storage that leaves no mount behind in tmp_path)


def test_missing_subordinate_ids_point_to_doctor(bed: Bed, name: str, tmp_path: Path) -> None:
    """/etc/subuid without a `containers` range, for this one command (private mount namespace)."""
    fake = tmp_path / "subuid"
    fake.write_text("tester:100000:65536\n")
    argv = bed.crossbox_argv(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], name])
    script = f"mount --bind {fake} /etc/subuid && mount --bind {fake} /etc/subgid && exec \"$@\""
    done = sh.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
                  check=False, env=bed.root_env())
    assert done.returncode == 4, done.stderr
    assert "podman found no subordinate id range for containers" in done.stderr
    assert "run `crossbox doctor` for details" in done.stderr
    assert_one_clean_line(done.stderr)
    assert_nothing_left(bed, name, None)
    doctor = sh.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                     *bed.crossbox_argv(["doctor"])], check=False, env=bed.root_env())
    assert doctor.returncode == 1
    assert "fix: add `containers:2147483647:2147483648` to /etc/subuid and /etc/subgid" in doctor.stdout
