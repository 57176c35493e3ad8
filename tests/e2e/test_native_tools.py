"""Native tools in foreign boxes (create --native-tools), rootful and rootless: real builds with
the host's cross compiler, make, shell and text tools, the same result as the emulated build,
the box's own machine in every report, and the box's own compiler where versions differ."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bed import images
from bed.bed import Bed

EM_AARCH64, EM_S390 = 0xB7, 0x16
NATIVE_BIN = "/run/crossbox/state/native/bin"
C_PROGRAM = '#include <stdio.h>\n#include <math.h>\nint main(void) { printf("root %.3f\\n", sqrt(2.0)); return 0; }\n'
MAKEFILE = "prog: prog.c\n\t$(CC) -O2 -o $@ $< -lm\n"


def make(bed: Bed, rootless: bool, box: str, image: str, arch: str = "arm64",
         native: bool = True) -> subprocess.CompletedProcess[str]:
    made = bed.crossbox(["-y", "create", "--arch", arch, "-i", bed.images[image],
                         *(["--native-tools"] if native else []), box], rootless=rootless)
    assert made.returncode == 0, made.stderr
    return made


def run(bed: Bed, rootless: bool, box: str, script: str, cwd: Path | None = None,
        env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return bed.crossbox(["run", "-c", box, "sh", "-c", script], rootless=rootless, env=env, timeout=timeout,
                        cwd=str(cwd) if cwd else None)


def elf_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "big" if path.read_bytes()[5] == 2 else "little")


def workdir(name: str) -> Path:
    """A directory in the host's /tmp (the box's too) that the box's user may write in, rootful or
    rootless (a rootful box's root is an unprivileged id of the host's)."""
    path = Path("/tmp") / f"crossbox-e2e-{name}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o777)
    path.chmod(0o777)
    return path


def unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="tar")
    for root, dirs, files in os.walk(into):
        for entry in dirs + files:
            os.chmod(os.path.join(root, entry), 0o777 if entry in dirs or os.access(os.path.join(root, entry),
                                                                                    os.X_OK) else 0o666)
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    return top


@pytest.fixture(scope="module")
def emulated_hello(bed: Bed) -> Iterator[Path]:
    """GNU hello built fully emulated once per run, in a --native-tools box with the native tools
    turned off by CROSSBOX_NATIVE_TOOLS=0 in the session (slow: minutes)."""
    box = f"{bed.name_prefix}emulated-hello"
    where = workdir("emulated-hello")
    try:
        make(bed, False, box, "debian-arm64-build")
        source = unpack(images.source_tarball("hello"), where)
        plain = run(bed, False, box, 'echo "$PATH"; for t in gcc make sh; do command -v $t; done',
                    env={"CROSSBOX_NATIVE_TOOLS": "0"})
        assert NATIVE_BIN not in plain.stdout and plain.stdout.split()[1:] == ["/usr/bin/gcc", "/usr/bin/make",
                                                                               "/usr/bin/sh"], plain.stdout
        built = run(bed, False, box, "./configure -q && make -s -j2 >/dev/null && ./hello", cwd=source,
                    env={"CROSSBOX_NATIVE_TOOLS": "0"}, timeout=1800)
        assert (built.returncode, built.stdout.splitlines()[-1:]) == (0, ["Hello, world!"]), built.stderr[-3000:]
        yield source
    finally:
        bed.crossbox(["rm", "--force", box])
        shutil.rmtree(where, ignore_errors=True)


def test_gnu_hello_builds_natively_with_the_emulated_builds_configuration(
        bed: Bed, rootless: bool, box: str, name: str, emulated_hello: Path) -> None:
    make(bed, rootless, box, "debian-arm64-build")
    where = workdir(name)
    try:
        source = unpack(images.source_tarball("hello"), where)
        built = run(bed, rootless, box, "./configure && make -j2 && ./hello", cwd=source)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        assert built.stdout.splitlines()[-1] == "Hello, world!"
        assert "checking whether we are cross compiling... no" in built.stdout  # a native build to the box
        assert elf_machine(source / "hello") == EM_AARCH64
        assert (source / "config.h").read_text() == (emulated_hello / "config.h").read_text()
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_a_makefile_only_c_project_builds_and_its_program_runs(bed: Bed, rootless: bool, box: str,
                                                              name: str) -> None:
    make(bed, rootless, box, "debian-arm64-build")
    where = workdir(name)
    try:
        lua = unpack(images.source_tarball("lua5.4"), where)
        built = run(bed, rootless, box, "make -j2 linux >/dev/null && src/lua -e 'print(_VERSION, 6 * 7)'", cwd=lua)
        assert (built.returncode, built.stdout) == (0, "Lua 5.4\t42\n"), built.stderr[-3000:]
        assert elf_machine(lua / "src" / "lua") == EM_AARCH64
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_the_box_reports_its_own_machine_and_its_files_stay_as_they_were(bed: Bed, rootless: bool,
                                                                        box: str) -> None:
    made = make(bed, rootless, box, "debian-arm64-build")
    assert "Native tools:" in made.stdout and "cc, gcc, g++, c++, cpp among them" in made.stdout, made.stdout
    ran = run(bed, rootless, box, "uname -m; gcc -dumpmachine; cc -v 2>&1 | grep ^Target; command -v make; "
                                  "/usr/bin/gcc -dumpmachine; command -v uname; command -v dpkg")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["aarch64", "aarch64-linux-gnu", "Target: aarch64-linux-gnu",
                                       f"{NATIVE_BIN}/make", "aarch64-linux-gnu",  # the box's own, emulated
                                       "/usr/bin/uname", "/usr/bin/dpkg"]
    listed = json.loads(bed.crossbox(["list", "--format", "json"], rootless=rootless).stdout)
    assert [c["native_tools"] for c in listed["containers"] if c["name"] == box] == [True]
    table = bed.crossbox(["list", "--containers"], rootless=rootless).stdout
    assert [line for line in table.splitlines() if line.split()[:1] == [box] and "+native" in line], table
    loader = host_loader()  # its mount point: the only path crossbox adds to the image's own directories
    changed = [line.split(None, 1)[1] for line in bed.podman(["diff", box], rootless=rootless).stdout.splitlines()]
    touched = [p for p in changed if p.startswith(("/usr", "/bin", "/lib", "/sbin"))
               and p not in (loader, os.path.dirname(loader))]
    assert not touched, changed


def host_loader() -> str:
    from elftools.elf.elffile import ELFFile

    with open(sys.executable, "rb") as f:
        return next(seg.get_interp_name() for seg in ELFFile(f).iter_segments() if seg["p_type"] == "PT_INTERP")


def test_a_box_whose_gcc_differs_from_the_hosts_keeps_its_own_compiler(bed: Bed, rootless: bool, box: str) -> None:
    made = make(bed, rootless, box, "gcc99")
    assert "its compilers stay emulated" in made.stdout, made.stdout
    assert "the box's gcc is 99, the host's cross gcc is 12: the box keeps its own" in made.stdout, made.stdout
    ran = run(bed, rootless, box, f"ls {NATIVE_BIN}")
    assert ran.returncode == 0, ran.stderr
    tools = ran.stdout.split()
    assert "make" in tools and "sed" in tools
    assert not {"gcc", "cc", "ld", "as"} & set(tools), tools


def test_an_s390x_box_builds_natively_too(bed: Bed, rootless: bool, box: str, name: str) -> None:
    make(bed, rootless, box, "debian-s390x-build", arch="s390x")
    where = workdir(name)
    try:
        (where / "prog.c").write_text(C_PROGRAM)
        (where / "Makefile").write_text(MAKEFILE)
        built = run(bed, rootless, box, "uname -m && make CC=cc && ./prog && command -v cc", cwd=where)
        assert built.returncode == 0, built.stderr
        assert built.stdout.splitlines() == ["s390x", "cc -O2 -o prog prog.c -lm", "root 1.414", f"{NATIVE_BIN}/cc"]
        assert elf_machine(where / "prog") == EM_S390
        # The native tools off for a session: the same build, all of it emulated (the box's own cc).
        (where / "prog").unlink()
        off = run(bed, rootless, box, "command -v cc && make CC=cc && ./prog", cwd=where,
                  env={"CROSSBOX_NATIVE_TOOLS": "0"})
        assert off.returncode == 0, off.stderr
        assert off.stdout.splitlines() == ["/usr/bin/cc", "cc -O2 -o prog prog.c -lm", "root 1.414"]
        assert elf_machine(where / "prog") == EM_S390
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_native_tools_are_refused_for_the_hosts_own_architecture(bed: Bed, box: str) -> None:
    made = bed.crossbox(["-y", "create", "--arch", "amd64", "-i", bed.images["bb-amd64"], "--native-tools", box])
    assert made.returncode != 0 and made.stderr.count("\n") == 1, made.stderr
    assert "--native-tools" in made.stderr
    assert box not in bed.podman(["ps", "-a", "--format", "{{.Names}}"]).stdout


def test_doctor_says_what_the_host_offers_for_an_architecture(bed: Bed) -> None:
    ran = bed.crossbox(["doctor", "--arch", "s390x"])
    line = next((ln for ln in ran.stdout.splitlines() if "native tools" in ln.lower()), "")
    assert "--native-tools can run s390x-linux-gnu-gcc 12" in line, ran.stdout
