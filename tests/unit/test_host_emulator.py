"""crossbox.host.emulator: finding the static QEMU and proving it fit, on ELF files built here."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from crossbox.host import emulator
from crossbox.host.emulator import EmulatorProblem, check_file, find, locate
from crossbox.shared.arch import parse_arch

X86_64 = parse_arch("x86_64")
AARCH64 = parse_arch("aarch64")
EM_X86_64, EM_AARCH64 = 62, 183
PT_LOAD, PT_INTERP = 1, 3
ET_EXEC, ET_DYN, ET_REL = 2, 3, 1
INTERP = b"/lib64/ld-linux-x86-64.so.2\0"


def elf64(machine: int = EM_X86_64, *, interp: bytes | None = None, e_type: int = ET_EXEC) -> bytes:
    """A minimal 64-bit little-endian ELF: header, program headers, and an interpreter string."""
    phnum = 2 if interp else 1
    phoff = 64
    data_off = phoff + 56 * phnum
    code = b"\xf4" * 16  # hlt; never run
    body = (interp or b"") + code
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        e_type, machine, 1, 0x400000 + data_off + len(interp or b""), phoff, 0, 0, 64, 56, phnum,
        64, 0, 0,
    )
    phdrs = b""
    if interp:
        phdrs += struct.pack("<IIQQQQQQ", PT_INTERP, 4, data_off, 0x400000 + data_off,
                             0x400000 + data_off, len(interp), len(interp), 1)
    total = data_off + len(body)
    phdrs += struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, 0x400000, 0x400000, total, total, 0x1000)
    out = header + phdrs + body
    assert len(header) == 64
    assert len(out) == total
    return out


def write(path: Path, content: bytes, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_static_elf_for_the_host_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", elf64())
    emu = check_file(str(path), AARCH64, host=X86_64)
    assert emu.arch == AARCH64
    assert emu.path == str(path)
    assert emu.real_path == str(path)
    assert emu.file_name == "qemu-aarch64-static"


def test_static_pie_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", elf64(e_type=ET_DYN))
    assert check_file(str(path), AARCH64, host=X86_64).real_path == str(path)


def test_symlink_is_resolved_for_the_bind_mount(tmp_path: Path) -> None:
    real = write(tmp_path / "libexec" / "qemu-aarch64", elf64())
    link = tmp_path / "bin" / "qemu-aarch64-static"
    link.parent.mkdir()
    link.symlink_to(real)
    emu = check_file(str(link), AARCH64, host=X86_64)
    assert emu.path == str(link)
    assert emu.real_path == str(real)
    assert emu.file_name == "qemu-aarch64-static"


def test_script_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", b"#!/bin/sh\nexec qemu-aarch64 \"$@\"\n")
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "not a statically linked ELF executable" in str(err.value)
    assert "script" in str(err.value)
    assert err.value.path == str(path)


def test_non_executable_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", elf64(), mode=0o644)
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "not executable" in str(err.value)


def test_dynamically_linked_elf_is_refused_naming_its_interpreter(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64", elf64(interp=INTERP))
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "dynamically linked" in str(err.value)
    assert "/lib64/ld-linux-x86-64.so.2" in str(err.value)


def test_elf_for_another_machine_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", elf64(EM_AARCH64))
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "built for EM_AARCH64" in str(err.value)
    assert "not for this x86_64 host" in str(err.value)


def test_the_same_aarch64_file_is_fine_on_an_aarch64_host(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-x86_64-static", elf64(EM_AARCH64))
    assert check_file(str(path), X86_64, host=AARCH64).path == str(path)


def test_relocatable_object_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", elf64(e_type=ET_REL))
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "is not an executable" in str(err.value)


@pytest.mark.parametrize("content", [b"MZ\x90\x00", b"", b"\x7fEL"], ids=["pe", "empty", "short"])
def test_non_elf_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "qemu-aarch64-static", content)
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "not ELF at all" in str(err.value)


def test_truncated_elf_is_refused_as_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "qemu-aarch64-static", elf64()[:40])
    with pytest.raises(EmulatorProblem) as err:
        check_file(str(path), AARCH64, host=X86_64)
    assert "qemu-aarch64-static" in str(err.value)


@pytest.fixture
def no_usual_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Replace the usual directories by one empty temporary one: the host's qemu is not seen."""
    usual = tmp_path / "usual"
    usual.mkdir()
    monkeypatch.setattr(emulator, "USUAL_DIRS", (str(usual),))
    return usual


def test_find_searches_path_before_the_usual_directories(tmp_path: Path,
                                                         no_usual_dirs: Path) -> None:
    on_path = write(tmp_path / "path" / "qemu-aarch64-static", elf64())
    write(no_usual_dirs / "qemu-aarch64-static", elf64())
    assert find(AARCH64, path_env=str(on_path.parent)) == str(on_path)


def test_find_prefers_static_anywhere_over_plain_earlier(tmp_path: Path,
                                                         no_usual_dirs: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(first / "qemu-aarch64", elf64())
    static = write(second / "qemu-aarch64-static", elf64())
    assert find(AARCH64, path_env=f"{first}:{second}") == str(static)


def test_find_takes_plain_when_there_is_no_static(tmp_path: Path, no_usual_dirs: Path) -> None:
    plain = write(no_usual_dirs / "qemu-aarch64", elf64())
    assert find(AARCH64, path_env=str(tmp_path / "empty")) == str(plain)


def test_find_follows_path_order_and_skips_empty_entries(tmp_path: Path,
                                                          no_usual_dirs: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write(a / "qemu-aarch64-static", elf64())
    write(b / "qemu-aarch64-static", elf64())
    assert find(AARCH64, path_env=f"::{b}::{a}") == str(b / "qemu-aarch64-static")


def test_find_ignores_directories_named_like_the_emulator(tmp_path: Path,
                                                          no_usual_dirs: Path) -> None:
    (tmp_path / "a" / "qemu-aarch64-static").mkdir(parents=True)
    assert find(AARCH64, path_env=str(tmp_path / "a")) is None


def test_candidates_do_not_repeat_a_usual_directory_on_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator, "USUAL_DIRS", ("/usr/bin", "/usr/libexec/qemu"))
    assert emulator.candidates(AARCH64, path_env="/opt/qemu/bin:/usr/bin") == [
        "/opt/qemu/bin/qemu-aarch64-static", "/usr/bin/qemu-aarch64-static",
        "/usr/libexec/qemu/qemu-aarch64-static",
        "/opt/qemu/bin/qemu-aarch64", "/usr/bin/qemu-aarch64", "/usr/libexec/qemu/qemu-aarch64",
    ]


def test_locate_with_nothing_found_names_both_file_names(tmp_path: Path,
                                                         no_usual_dirs: Path) -> None:
    with pytest.raises(EmulatorProblem) as err:
        locate(parse_arch("riscv64"), path_env=str(tmp_path))
    assert str(err.value) == (
        f"no qemu-riscv64-static or qemu-riscv64 was found on PATH or in {no_usual_dirs}"
    )


def test_locate_checks_what_it_finds(tmp_path: Path, no_usual_dirs: Path) -> None:
    write(tmp_path / "bin" / "qemu-aarch64-static", b"#!/bin/sh\n")
    with pytest.raises(EmulatorProblem) as err:
        locate(AARCH64, path_env=str(tmp_path / "bin"))
    assert "script" in str(err.value)


def test_locate_on_an_x86_64_host_returns_the_static_emulator(
        tmp_path: Path, no_usual_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator, "host_arch", lambda: X86_64)
    monkeypatch.setattr(emulator, "check_version", lambda path: None)  # a header, not a program to run
    path = write(tmp_path / "bin" / "qemu-aarch64-static", elf64())
    emu = locate(AARCH64, path_env=str(path.parent))
    assert emu.real_path == os.path.realpath(path)


@pytest.mark.parametrize(("text", "version"), [
    ("qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright ...", (7, 2)),
    ("qemu-s390x version 5.2.0\n", (5, 2)),
    ("garbage", None),
])
def test_parse_version(text: str, version: tuple[int, int] | None) -> None:
    assert emulator.parse_version(text) == version


def test_an_emulator_older_than_6_0_is_refused_for_ignoring_the_p_flag(tmp_path: Path) -> None:
    old = tmp_path / "qemu-aarch64-static"
    old.write_text("#!/bin/sh\necho 'qemu-aarch64 version 5.2.0'\n")
    old.chmod(0o755)
    with pytest.raises(emulator.EmulatorProblem) as err:
        emulator.check_version(str(old))
    assert "preserve-argv0" in str(err.value) and "6.0 or newer" in str(err.value)
    new = tmp_path / "qemu-new"
    new.write_text("#!/bin/sh\necho 'qemu-aarch64 version 8.2.1'\n")
    new.chmod(0o755)
    emulator.check_version(str(new))
