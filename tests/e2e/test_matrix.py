"""Matrix runs end to end: `run --rm -i IMAGE --arch A,B,C COMMAND` on the bed's busybox indexes
(`every`: amd64, arm64, ppc64le, s390x, arm/v7; `multi`: amd64, arm64, ppc64le)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from bed.bed import Bed


def _containers(bed: Bed, rootless: bool) -> set[str]:
    return set(bed.podman(["ps", "-a", "-q"], rootless=rootless).stdout.split())


def _no_container_left(bed: Bed, rootless: bool, before: set[str]) -> None:
    deadline = time.monotonic() + 15
    while _containers(bed, rootless) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _containers(bed, rootless) - before == set()


def _row(stderr: str, arch: str, status: int | str, result: str) -> bool:
    return re.search(rf"^{re.escape(arch)} +{status} +{result}$", stderr, re.M) is not None


def test_matrix_prints_each_architectures_uname_prefixed_and_a_summary(bed: Bed, rootless: bool) -> None:
    before = _containers(bed, rootless)
    ran = bed.crossbox(["-y", "run", "--rm", "-i", bed.images["every"], "--arch", "arm64,ppc64le,s390x",
                        "uname", "-m"], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    assert sorted(ran.stdout.splitlines()) == ["arm64   | aarch64", "ppc64le | ppc64le", "s390x   | s390x"]
    assert re.search(r"^ARCH +STATUS +RESULT$", ran.stderr, re.M), ran.stderr
    for arch in ("arm64", "ppc64le", "s390x"):
        assert _row(ran.stderr, arch, 0, "ok"), ran.stderr
    assert "ARCH" not in ran.stdout  # the table is on stderr: stdout stays data
    _no_container_left(bed, rootless, before)


def test_matrix_row_of_an_architecture_the_index_lacks_fails_with_the_usual_message(
        bed: Bed, rootless: bool) -> None:
    ref = bed.images["every"]
    ran = bed.crossbox(["-y", "run", "--rm", "-i", ref, "--arch", "arm64,riscv64,s390x", "uname", "-m"],
                       rootless=rootless)
    assert ran.returncode == 125, ran.stderr
    assert f"riscv64 | crossbox: error: {ref} has no image for riscv64; it offers " in ran.stderr
    assert sorted(ran.stdout.splitlines()) == ["arm64   | aarch64", "s390x   | s390x"]
    assert _row(ran.stderr, "riscv64", 125, "failed"), ran.stderr
    assert _row(ran.stderr, "arm64", 0, "ok") and _row(ran.stderr, "s390x", 0, "ok"), ran.stderr


def test_matrix_status_is_the_first_failing_architectures_in_the_order_given(bed: Bed, rootless: bool) -> None:
    ref = bed.images["every"]
    ran = bed.crossbox(["-y", "run", "--rm", "-i", ref, "--arch", "arm64,ppc64le,s390x",
                        "sh", "-c", "test $(uname -m) != s390x"], rootless=rootless)
    assert ran.returncode == 1, ran.stderr
    assert _row(ran.stderr, "s390x", 1, "failed"), ran.stderr
    assert _row(ran.stderr, "arm64", 0, "ok") and _row(ran.stderr, "ppc64le", 0, "ok"), ran.stderr
    both = bed.crossbox(["-y", "run", "--rm", "-i", ref, "--arch", "arm64,s390x,ppc64le", "sh", "-c",
                         "case $(uname -m) in s390x) echo bad >&2; exit 3;; ppc64le) exit 4;; esac"],
                        rootless=rootless)
    assert both.returncode == 3, both.stderr
    assert "s390x   | bad" in both.stderr.splitlines()
    assert _row(both.stderr, "ppc64le", 4, "failed"), both.stderr


def test_matrix_asks_once_for_every_missing_image_with_the_total_size(bed: Bed, rootless: bool) -> None:
    ref = bed.images["every"]
    for oci in ("arm64", "ppc64le", "s390x"):
        bed.podman(["rmi", f"{ref}-{oci}"], rootless=rootless)
    refused = bed.crossbox(["run", "--rm", "-i", ref, "--arch", "arm64,ppc64le,s390x", "uname", "-m"],
                           rootless=rootless)
    assert refused.returncode == 125, refused.stderr
    assert refused.stderr.count("Download") == 1, refused.stderr
    assert re.search(rf"crossbox asks \"Download {re.escape(ref)} for arm64, ppc64le, s390x \([0-9.]+ [kM]B in all\)"
                     r"\?\", but there is no terminal to ask on; pass -y", refused.stderr), refused.stderr
    assert refused.stdout == ""
    term = bed.terminal(["run", "--rm", "-i", ref, "--arch", "arm64,ppc64le,s390x", "uname", "-m"],
                        rootless=rootless)
    try:
        term.expect(r"in all\)\? \[y/N\]", timeout=120)
        term.send("y\r")
        status = term.wait(300)
    finally:
        term.close()
    assert status == 0, term.text
    assert term.text.count("[y/N]") == 1
    for line in ("arm64   | aarch64", "ppc64le | ppc64le", "s390x   | s390x"):
        assert line in term.text


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


def _crossbox_pid(proc: subprocess.Popen[str], rootless: bool) -> int:
    """The matrix's own crossbox: the test user's runs sit below runuser, which passes no signal on."""
    pid = proc.pid
    while rootless:
        children = _children(pid)
        assert children, "no crossbox process below runuser"
        pid = children[0]
        if b"crossbox.host" in Path(f"/proc/{pid}/cmdline").read_bytes():
            break
    return pid


def test_matrix_sigterm_reaches_every_row_and_leaves_no_container(bed: Bed, rootless: bool) -> None:
    ref = bed.images["every"]
    pulled = bed.crossbox(["-y", "run", "--rm", "-i", ref, "--arch", "arm64,s390x", "true"], rootless=rootless)
    assert pulled.returncode == 0, pulled.stderr
    before = _containers(bed, rootless)
    argv = bed.crossbox_argv(["run", "--rm", "-i", ref, "--arch", "arm64,s390x", "sh", "-c",
                              "echo started; sleep 60"], rootless=rootless)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=None if rootless else bed.root_env(),
                            cwd=bed.tester.home if rootless and bed.tester else None)
    assert proc.stdout is not None
    started = {proc.stdout.readline().strip(), proc.stdout.readline().strip()}
    assert started == {"arm64 | started", "s390x | started"}
    time.sleep(0.5)
    sent = time.monotonic()
    os.kill(_crossbox_pid(proc, rootless), signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert time.monotonic() - sent < 15
    assert _row(err, "arm64", 143, "interrupted") and _row(err, "s390x", 143, "interrupted"), err
    _no_container_left(bed, rootless, before)


def test_matrix_list_with_a_container_is_a_usage_error(bed: Bed, rootless: bool, name: str) -> None:
    ran = bed.crossbox(["run", "-c", name, "--arch", "arm64,s390x", "true"], rootless=rootless)
    assert ran.returncode == 2
    assert ran.stderr.startswith("crossbox: error: a list of architectures in --arch runs only one-shot")
