"""Real work in the box, rootful and rootless: shell scripts under emulation, apt, a quiet sudo,
Toolbx's environment, one-shot runs on a terminal, signals, and an agent that cannot start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from bed.bed import Bed


def make(bed: Bed, rootless: bool, box: str, image: str, arch: str = "arm64",
         env: dict[str, str] | None = None) -> None:
    made = bed.crossbox(["-y", "create", "--arch", arch, "-i", bed.images[image], box], rootless=rootless, env=env)
    assert made.returncode == 0, made.stderr


def run(bed: Bed, rootless: bool, box: str, *command: str, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return bed.crossbox(["run", "-c", box, *command], rootless=rootless, env=env)


def assert_reads_the_hosts_tmp(bed: Bed, rootless: bool, box: str) -> None:
    """A file the host writes in its /tmp is readable in the box (the host's /tmp is the box's)."""
    handed = Path("/tmp") / f"crossbox-e2e-{box}.txt"
    handed.write_text("from the host\n")
    handed.chmod(0o644)
    try:
        ran = run(bed, rootless, box, "cat", str(handed))
        assert (ran.returncode, ran.stdout) == (0, "from the host\n"), ran.stderr
    finally:
        handed.unlink()


# -- shell scripts under emulation (argv[0] kept: the P flag) ------------------------------------

@pytest.mark.parametrize(("arch", "image"), [("arm64", "bb-arm64"), ("s390x", "bb-s390x")])
def test_shell_scripts_work_in_emulated_busybox_images(bed: Bed, rootless: bool, box: str, arch: str,
                                                      image: str) -> None:
    make(bed, rootless, box, image, arch)
    ran = run(bed, rootless, box, "sh", "-c", "sleep 0.1 && echo abc | tail -1")
    assert (ran.returncode, ran.stdout) == (0, "abc\n"), ran.stderr
    loop = run(bed, rootless, box, "sh", "-c", "for i in 1 2 3; do echo $i | tr 123 xyz; done | sort -r | head -2")
    assert loop.stdout.split() == ["z", "y"], loop.stderr
    named = run(bed, rootless, box, "sh", "-c", "grep --help 2>&1; true")
    assert "Usage: grep" in named.stdout, named.stdout  # busybox dispatched on argv[0]


# -- a real Debian arm64 box ---------------------------------------------------------------------

def test_debian_box_runs_apt_sudo_quietly_and_gives_a_login_shell(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "debian-arm64")
    quiet = run(bed, rootless, box, "sudo", "true")
    assert (quiet.returncode, quiet.stderr) == (0, ""), quiet.stderr  # the box's name resolves
    login = run(bed, rootless, box, "sudo", "-i", "sh", "-c", 'echo "$0:$HOME:$(id -u)"')
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "-bash:/root:0"  # argv[0] kept: bash knows it is a login shell
    apt = run(bed, rootless, box, "sudo", "apt-get", "-q", "update")
    assert apt.returncode == 0, apt.stdout[-2000:] + apt.stderr[-2000:]
    assert "setgroups" not in apt.stderr and "has died" not in apt.stderr
    user = "tester" if rootless else "root"
    who = run(bed, rootless, box, "sh", "-c", 'echo "$USER:$LOGNAME"')
    assert (who.returncode, who.stdout.strip()) == (0, f"{user}:{user}"), who.stderr
    assert_reads_the_hosts_tmp(bed, rootless, box)


def test_the_session_has_toolbxs_environment(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    host_env = {"HISTSIZE": "4242", "DISPLAY": ":7", "VTE_VERSION": "7000", "SSH_AUTH_SOCK": "/tmp/agent.sock",
                "KONSOLE_VERSION": "230804", "XDG_SESSION_CLASS": "user", "LD_PRELOAD": "/nope.so"}
    ran = run(bed, rootless, box, "env", env=host_env)
    assert ran.returncode == 0, ran.stderr
    env = dict(line.split("=", 1) for line in ran.stdout.splitlines() if "=" in line)
    user = "tester" if rootless else "root"
    assert (env["USER"], env["LOGNAME"]) == (user, user)
    assert env["HOME"] == ("/home/tester" if rootless else "/root")
    for name in ("HISTSIZE", "DISPLAY", "VTE_VERSION", "SSH_AUTH_SOCK", "KONSOLE_VERSION", "XDG_SESSION_CLASS"):
        assert env[name] == host_env[name], name
    assert "LD_PRELOAD" not in env


def test_the_hosts_tmp_is_shared(bed: Bed, rootless: bool, box: str) -> None:
    make(bed, rootless, box, "bb-arm64")
    assert_reads_the_hosts_tmp(bed, rootless, box)


def test_run_sees_what_the_login_profile_sets(bed: Bed, box: str) -> None:
    """Rootless (the tester's own home): ~/.profile is read once per start, as a login shell does."""
    assert bed.tester is not None
    profile = Path(bed.tester.home) / ".profile"
    saved = profile.read_text() if profile.exists() else None
    profile.write_text((saved or "") + f"\nexport CROSSBOX_E2E_PROFILE={box}\n")
    try:
        make(bed, True, box, "debian-arm64")
        ran = run(bed, True, box, "sh", "-c", "echo $CROSSBOX_E2E_PROFILE")
        assert ran.stdout.strip() == box, ran.stderr
    finally:
        if saved is None:
            profile.unlink()
        else:
            profile.write_text(saved)


def test_a_host_locale_the_image_lacks_falls_back_to_c_utf8_said_once(bed: Bed, rootless: bool,
                                                                      box: str) -> None:
    make(bed, rootless, box, "debian-arm64")
    env = {"LANG": "de_DE.UTF-8"}
    first = run(bed, rootless, box, "sh", "-c", "echo $LANG; perl -e 1", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "C.UTF-8"
    assert "has no locale de_DE.UTF-8; using C.UTF-8" in first.stderr
    assert "perl: warning" not in first.stderr
    again = run(bed, rootless, box, "sh", "-c", "echo $LANG", env=env)
    assert again.stderr == "" and again.stdout.strip() == "C.UTF-8"


def test_preserve_fds_passes_descriptors_as_toolbx_does(bed: Bed, rootless: bool, box: str,
                                                       tmp_path: Path) -> None:
    make(bed, rootless, box, "bb-arm64")
    data = tmp_path / "fd3.txt"
    data.write_text("through fd 3\n")
    data.chmod(0o644)
    tmp_path.chmod(0o755)
    argv = bed.crossbox_argv(["run", "--preserve-fds", "1", "-c", box, "sh", "-c", "cat <&3"], rootless=rootless)
    # The shell opens fd 3 for crossbox alone (this process's fd 3 is pytest's).
    done = subprocess.run(["sh", "-c", 'exec "$@" 3<"$0"', str(data), *argv], capture_output=True, text=True,
                          timeout=120, env=None if rootless else bed.root_env(),
                          cwd=bed.tester.home if rootless and bed.tester else None, check=False)
    assert (done.returncode, done.stdout) == (0, "through fd 3\n"), done.stderr


# -- rootful user namespaces ---------------------------------------------------------------------

def test_a_rootful_box_made_after_others_were_removed_starts(bed: Bed, name: str) -> None:
    """The removal sequence of the issue: busybox, Debian, remove busybox, another Debian."""
    names = [f"{name}-bb", f"{name}-deb1", f"{name}-deb2"]
    try:
        make(bed, False, names[0], "bb-arm64")
        make(bed, False, names[1], "debian-arm64")
        assert bed.crossbox(["rm", "--force", names[0]]).returncode == 0
        make(bed, False, names[2], "debian-arm64")
        ran = run(bed, False, names[2], "id", "-u")
        assert (ran.returncode, ran.stdout.strip()) == (0, "0"), ran.stderr
        maps = json.loads(bed.podman(["container", "inspect", "--format", "{{json .HostConfig.IDMappings}}",
                                      names[2]], check=True).stdout)
        assert len(maps["UidMap"]) == 1 and maps["UidMap"][0].endswith(":65536")
    finally:
        for n in names:
            bed.crossbox(["rm", "--force", n])


def test_a_split_id_map_from_podman_is_recovered_before_the_first_start(bed: Bed, name: str) -> None:
    """Plain podman containers of mixed sizes leave a 1024-id hole: --userns=auto fills it and hands
    out a split map that podman 4.3's overlay cannot mount; before the box's first start (the
    inspection that precedes it shows the map) crossbox makes it again with a contiguous one."""
    plain = [f"{name}-p1", f"{name}-p2"]
    local = f"{bed.images['bb-amd64']}"
    box = f"{name}-box"
    try:
        assert bed.podman(["pull", "-q", local]).returncode == 0
        for p, size in zip(plain, (1024, 65536), strict=True):
            made = bed.podman(["create", "--name", p, f"--userns=auto:size={size}", local, "true"])
            assert made.returncode == 0, made.stderr
        assert bed.podman(["rm", plain[0]]).returncode == 0  # the hole
        make(bed, False, box, "debian-arm64")
        ran = run(bed, False, box, "sudo", "true")
        assert ran.returncode == 0, ran.stderr
        maps = json.loads(bed.podman(["container", "inspect", "--format", "{{json .HostConfig.IDMappings}}",
                                      box], check=True).stdout)
        assert len(maps["UidMap"]) == 1 and len(maps["GidMap"]) == 1, maps
    finally:
        bed.crossbox(["rm", "--force", box])
        for p in plain:
            bed.podman(["rm", "-f", p])
        bed.podman(["rmi", local])


# -- one-shot runs on a terminal, and signals -----------------------------------------------------

def test_oneshot_on_a_terminal_works(bed: Bed, rootless: bool) -> None:
    term = bed.terminal(["-y", "run", "--rm", "-i", bed.images["multi"], "--arch", "arm64", "uname", "-m"],
                        rootless=rootless)
    try:
        assert term.wait(120) == 0, term.text
    finally:
        term.close()
    assert "aarch64" in term.text


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def crossbox_pid(proc: subprocess.Popen[str], rootless: bool) -> int:
    """crossbox's own process: the test user's runs sit below runuser, which passes no signal on."""
    if not rootless:
        return proc.pid
    pid = proc.pid
    for _ in range(3):
        children = _children(pid)
        if not children:
            break
        pid = children[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"crossbox.host" in cmdline or cmdline.startswith(b"podman"):
            return pid
    raise AssertionError("no crossbox process below runuser")


def _containers(bed: Bed, rootless: bool) -> set[str]:
    return set(bed.podman(["ps", "-a", "-q"], rootless=rootless).stdout.split())


def test_ctrl_c_in_a_foreign_oneshot_ends_it_with_130_and_removes_it(bed: Bed, rootless: bool) -> None:
    before = _containers(bed, rootless)
    image = bed.images["bb-arm64"]
    assert bed.crossbox(["-y", "run", "--rm", "-i", image, "--arch", "arm64", "true"],
                        rootless=rootless).returncode == 0  # pulled: the timing below is the run's
    term = bed.terminal(["-y", "run", "--rm", "-i", image, "--arch", "arm64", "sh", "-c", "echo started; sleep 30"],
                        rootless=rootless)
    try:
        term.expect("started", timeout=60)
        time.sleep(0.5)
        sent = time.monotonic()
        term.send("\x03")
        status = term.wait(30)
        took = time.monotonic() - sent
    finally:
        term.close()
    assert status == 130, term.text
    assert took < 3, f"{took:.1f} s"
    deadline = time.monotonic() + 10
    while _containers(bed, rootless) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _containers(bed, rootless) - before == set()


@pytest.mark.parametrize("arch", ["s390x", "amd64"])  # foreign (qemu under the agent) and native
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_a_oneshot_without_a_terminal_reaches_the_command(bed: Bed, rootless: bool,
                                                                      signum: int, arch: str) -> None:
    before = _containers(bed, rootless)
    argv = bed.crossbox_argv(["-y", "run", "--rm", "-i", bed.images[f"bb-{arch}"], "--arch", arch, "sh", "-c",
                              "echo started; sleep 30"], rootless=rootless)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=None if rootless else bed.root_env(),
                            cwd=bed.tester.home if rootless and bed.tester else None)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.5)
    os.kill(crossbox_pid(proc, rootless), signum)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    deadline = time.monotonic() + 10
    while _containers(bed, rootless) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _containers(bed, rootless) - before == set()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_without_a_terminal_passes_signals_to_the_command(bed: Bed, rootless: bool, box: str,
                                                              signum: int) -> None:
    make(bed, rootless, box, "bb-arm64")
    argv = bed.crossbox_argv(["run", "-c", box, "sh", "-c", "echo started; exec sleep 30"], rootless=rootless)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=None if rootless else bed.root_env(),
                            cwd=bed.tester.home if rootless and bed.tester else None)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.5)
    started = time.monotonic()
    os.kill(crossbox_pid(proc, rootless), signum)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert time.monotonic() - started < 5
    left = run(bed, rootless, box, "sh", "-c", "ps -o args 2>/dev/null || ls /proc")
    assert "sleep 30" not in left.stdout


# -- the image's architecture, and an agent that cannot start ------------------------------------

def test_a_native_create_from_a_retagged_foreign_image_is_refused(bed: Bed, name: str) -> None:
    image = bed.images["multi"]
    try:
        pulled = bed.podman(["pull", "-q", "--arch", "arm64", image])  # what `podman run --arch` does
        assert pulled.returncode == 0, pulled.stderr
        made = bed.crossbox(["-y", "create", "-i", image, name])
        assert made.returncode == 6, made.stderr
        assert "is for arm64, not amd64" in made.stderr
        assert f"podman pull --arch amd64 {image}" in made.stderr
        assert bed.podman(["container", "exists", name]).returncode == 1
    finally:
        bed.podman(["rmi", image])


def test_an_agent_that_cannot_start_is_reported_within_3_s(bed: Bed, name: str, tmp_path: Path) -> None:
    """A Python prefix of links to the host's own files: on the host it is whole, but inside the
    container its absolute links point into the image, so the interpreter dies at once."""
    import sys

    real = Path(sys.base_prefix).resolve()
    fake = tmp_path / "python"
    shutil.copytree(real, fake, symlinks=True, copy_function=os.symlink)
    for path in [fake, *fake.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    tmp_path.chmod(0o755)
    python = fake / "bin" / Path(sys.executable).resolve().name
    try:
        make(bed, False, name, "bb-arm64", env={"CROSSBOX_GUEST_PYTHON": str(python), "CROSSBOX_NO_CACHE": "1"})
        started = time.monotonic()
        ran = bed.crossbox(["run", "-c", name, "true"])
        took = time.monotonic() - started
        assert ran.returncode == 125
        assert f"container {name} failed to start" in ran.stderr
        assert took < 3, f"{took:.1f} s: {ran.stderr}"
        # The host's Python moved away (an upgrade): said before podman is even asked, with the fix.
        shutil.rmtree(fake)
        started = time.monotonic()
        ran = bed.crossbox(["run", "-c", name, "true"])
        took = time.monotonic() - started
        assert ran.returncode == 125
        assert f"container {name} needs {fake}" in ran.stderr and "no longer exists on the host" in ran.stderr
        assert f"crossbox rm {name}" in ran.stderr  # the fix: recreate it
        assert "Traceback" not in ran.stderr
        assert took < 3, f"{took:.1f} s: {ran.stderr}"
    finally:
        bed.crossbox(["rm", "--force", name])
