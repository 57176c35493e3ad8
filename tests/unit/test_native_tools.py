"""Native tools in a foreign box: the table, the version guard, and the tool directory the agent
builds, for a Debian host and a Fedora host (their layouts as recorded from the distributions)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from crossbox.guest import native
from crossbox.host import interpreter
from crossbox.shared import nativetools, sessionenv
from crossbox.shared.arch import host_arch, parse_arch

AARCH64 = parse_arch("aarch64")


def elf_header(e_machine: int) -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + struct.pack("<HH", 2, e_machine) + b"\x00" * 44


def host_exe(root: Path, path: str) -> None:
    f = root / path.lstrip("/")
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(elf_header(host_arch().e_machine))
    f.chmod(0o755)


# Recorded layouts (file lists of the distributions' packages): where the cross compiler, its
# version directory and the box's start files are.
DEBIAN_HOST = {"bins": ["/usr/bin/aarch64-linux-gnu-gcc", "/usr/bin/aarch64-linux-gnu-g++",
                        "/usr/bin/aarch64-linux-gnu-cpp", "/usr/bin/aarch64-linux-gnu-ld",
                        "/usr/bin/aarch64-linux-gnu-as", "/usr/bin/aarch64-linux-gnu-ar"],
               "gcc_dir": "/usr/lib/gcc-cross/aarch64-linux-gnu/12"}
FEDORA_HOST = {"bins": ["/usr/bin/aarch64-linux-gnu-gcc", "/usr/bin/aarch64-linux-gnu-g++",
                        "/usr/bin/aarch64-linux-gnu-cpp", "/usr/bin/aarch64-linux-gnu-ld",
                        "/usr/bin/aarch64-linux-gnu-as", "/usr/bin/aarch64-linux-gnu-ar"],
               "gcc_dir": "/usr/lib/gcc/aarch64-linux-gnu/14"}
DEBIAN_BOX = {"crt": "/usr/lib/aarch64-linux-gnu/crt1.o", "gcc_dir": "/usr/lib/gcc/aarch64-linux-gnu/12"}
FEDORA_BOX = {"crt": "/usr/lib64/crt1.o", "gcc_dir": "/usr/lib/gcc/aarch64-redhat-linux/14"}


def make_host(root: Path, layout: dict[str, object]) -> None:
    for path in [*layout["bins"], "/usr/bin/dash", "/usr/bin/sed", "/usr/bin/make", "/usr/bin/mawk"]:  # type: ignore[misc]
        host_exe(root, path)
    (root / "usr/bin/awk").symlink_to("/etc/alternatives/awk")  # an absolute link of the host's
    (root / "etc/alternatives").mkdir(parents=True)
    (root / "etc/alternatives/awk").symlink_to("/usr/bin/mawk")
    (root / str(layout["gcc_dir"]).lstrip("/")).mkdir(parents=True)


def make_box(root: Path, layout: dict[str, str]) -> None:
    crt = root / layout["crt"].lstrip("/")
    crt.parent.mkdir(parents=True, exist_ok=True)
    crt.write_bytes(b"")
    (root / layout["gcc_dir"].lstrip("/")).mkdir(parents=True)


@pytest.mark.parametrize(("host_layout", "box_layout", "lib_dir"), [
    (DEBIAN_HOST, DEBIAN_BOX, "/usr/lib/aarch64-linux-gnu"),
    (FEDORA_HOST, FEDORA_BOX, "/usr/lib64"),
], ids=["debian", "fedora"])
def test_the_tool_directory_of_a_host_and_box_layout(tmp_path: Path, host_layout: dict[str, object],
                                                     box_layout: dict[str, str], lib_dir: str) -> None:
    host, box, state = tmp_path / "host", tmp_path / "box", tmp_path / "state"
    state.mkdir()
    make_host(host, host_layout)
    make_box(box, box_layout)
    report = native.build(AARCH64, "/run/host/usr/lib64", "/usr/bin:/bin", host_root=str(host),
                          state_dir=str(state), box_root=str(box))
    bin_dir = state / "native" / "bin"
    assert {"cc", "gcc", "g++", "c++", "cpp", "ld", "as", "ar", "sed", "make", "awk", "sh"} <= set(report["native"])
    # Links are resolved on the host's side: awk -> /etc/alternatives/awk -> mawk, inside /run/host.
    assert os.readlink(bin_dir / "awk") == f"{host}/usr/bin/mawk"
    assert os.readlink(bin_dir / "ld") == f"{host}/usr/bin/aarch64-linux-gnu-ld"
    wrapper = (bin_dir / "gcc").read_text()
    assert wrapper.startswith(f"#!{nativetools.NATIVE_BIN}/sh\n")
    assert f"'{host}/usr/bin/aarch64-linux-gnu-gcc' '--sysroot=/' '-B{lib_dir}' '-L{lib_dir}' \"$@\"" in wrapper
    for never in nativetools.NEVER:
        assert not (bin_dir / never).exists(), never
    env = sessionenv.decode((state / nativetools.NATIVE_ENV).read_bytes())
    assert env["PATH"] == f"{nativetools.NATIVE_BIN}:/usr/bin:/bin"
    assert env["LD_LIBRARY_PATH"] == "/run/host/usr/lib64"
    assert env["CONFIG_SHELL"] == f"{nativetools.NATIVE_BIN}/sh"
    assert json.loads((state / "native" / nativetools.REPORT).read_text())["native"] == report["native"]


def test_a_box_whose_compiler_differs_from_the_hosts_keeps_its_own(tmp_path: Path) -> None:
    host, box, state = tmp_path / "host", tmp_path / "box", tmp_path / "state"
    state.mkdir()
    make_host(host, DEBIAN_HOST)  # cross gcc 12
    make_box(box, {"crt": "/usr/lib/aarch64-linux-gnu/crt1.o", "gcc_dir": "/usr/lib/gcc/aarch64-linux-gnu/14"})
    report = native.build(AARCH64, "/run/host/usr/lib", "/usr/bin", host_root=str(host), state_dir=str(state),
                          box_root=str(box))
    assert "gcc" not in report["native"] and "cc" not in report["native"]
    assert report["emulated"]["gcc"] == "the box's gcc is 14, the host's cross gcc is 12: the box keeps its own"
    assert "make" in report["native"] and "sed" in report["native"]  # the rest still runs natively
    assert "ld" not in report["native"] and "as" not in report["native"]  # the toolchain stays whole


def test_only_the_boxs_own_programs_are_said_to_stay_emulated(tmp_path: Path) -> None:
    host, box, state = tmp_path / "host", tmp_path / "box", tmp_path / "state"
    state.mkdir()
    make_host(host, DEBIAN_HOST)
    make_box(box, DEBIAN_BOX)
    (box / "usr/bin").mkdir(parents=True, exist_ok=True)
    (box / "usr/bin/gawk").write_bytes(b"")  # the host has no gawk; the box has
    report = native.build(AARCH64, "/x", "/usr/bin", host_root=str(host), state_dir=str(state), box_root=str(box))
    assert report["emulated"]["gawk"] == "the host has none"
    assert "m4" not in report["emulated"] and "m4" not in report["native"]  # neither has one: nothing to say


def test_a_box_without_a_compiler_of_its_own_gets_the_hosts(tmp_path: Path) -> None:
    host, box, state = tmp_path / "host", tmp_path / "box", tmp_path / "state"
    state.mkdir()
    make_host(host, DEBIAN_HOST)
    (box / "usr/lib/aarch64-linux-gnu").mkdir(parents=True)
    (box / "usr/lib/aarch64-linux-gnu/crt1.o").write_bytes(b"")
    report = native.build(AARCH64, "/x", "/usr/bin", host_root=str(host), state_dir=str(state), box_root=str(box))
    assert "gcc" in report["native"]


@pytest.mark.parametrize(("host", "box", "ok"), [
    (["12"], ["12"], True), (["12"], [], True), ([], ["12"], False), (["12"], ["14"], False),
    (["12", "13"], ["13.2"], True), (["11.4.0"], ["11"], True),
])
def test_the_version_guard(host: list[str], box: list[str], ok: bool) -> None:
    assert nativetools.compiler_decision(host, box)[0] is ok


def test_gcc_versions_are_sorted_numerically_and_skip_other_names() -> None:
    assert nativetools.gcc_versions(["9", "12", "include", "10.2"]) == ["9", "10.2", "12"]


@pytest.mark.parametrize(("family", "hint"), [
    ("debian", "apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu"),
    ("fedora", "dnf install gcc-aarch64-linux-gnu gcc-c++-aarch64-linux-gnu binutils-aarch64-linux-gnu"),
])
def test_the_packages_that_bring_a_cross_toolchain(family: str, hint: str) -> None:
    assert nativetools.package_hint(family, "aarch64-linux-gnu") == hint


def test_no_tool_is_both_mapped_and_never_mapped() -> None:
    mapped = set(nativetools.NEUTRAL) | set(nativetools.COMPILERS) | set(nativetools.BINUTILS)
    assert not mapped & set(nativetools.NEVER)
    assert "uname" in nativetools.NEVER and "uname" not in mapped


@pytest.mark.parametrize(("loader", "expected"), [
    ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]),
    ("/usr/lib64/ld-linux-x86-64.so.2", ["/lib64", "/usr/lib64"]),  # Fedora: no multiarch directory
], ids=["debian", "fedora"])
def test_the_loaders_default_directories_of_each_layout(loader: str, expected: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreter, "_ld_so_conf_dirs", lambda: [])
    monkeypatch.setattr(os.path, "realpath", lambda p: p)
    dirs = interpreter.default_library_dirs(loader)
    for d in expected:
        assert d in dirs
