"""crossbox.shared.arch: names, uname/OCI mapping, binfmt magic checked against real ELF files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from crossbox.shared import arch as arch_mod
from crossbox.shared.arch import (
    ARCHITECTURES,
    Arch,
    UnknownArchError,
    from_elf_header,
    from_oci,
    from_uname,
    parse_arch,
    supported_names,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "elf-headers.json"
BY_NAME = {a.name: a for a in ARCHITECTURES}


def _real_headers() -> list[tuple[str, bytes, str]]:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    return [(h["arch"], bytes.fromhex(h["header"]), h["source"]) for h in doc["headers"]]


REAL_HEADERS = _real_headers()


def _loongarch64_header() -> bytes:
    """A loongarch64 executable's ELF header, built from the ELF specification.

    Debian bookworm has no loong64 port, so no real file is available for it (see
    tests/data/collect-elf-headers.sh). Fields: ELFCLASS64, ELFDATA2LSB, EV_CURRENT,
    EI_OSABI 0 (System V), EI_ABIVERSION 0, e_type ET_EXEC, e_machine EM_LOONGARCH (258).
    """
    e_ident = b"\x7fELF" + bytes([2, 1, 1, 0, 0]) + bytes(7)
    header = struct.pack(
        "<16sHHIQQQIHHHHHH",
        e_ident,
        2,  # e_type: ET_EXEC
        258,  # e_machine: EM_LOONGARCH
        1,  # e_version
        0x120000000,  # e_entry
        64,  # e_phoff
        0,  # e_shoff
        0x3,  # e_flags: LP64D ABI
        64,  # e_ehsize
        56,  # e_phentsize
        0,  # e_phnum
        64,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    assert len(header) == 64
    return header


ALL_HEADERS = [*REAL_HEADERS, ("loongarch64", _loongarch64_header(), "built from the ELF spec")]

# The strings in QEMU's scripts/qemu-binfmt-conf.sh, copied independently of shared/arch.py.
QEMU_BINFMT_CONF = {
    "i386": (
        r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00",
        r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "x86_64": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "arm": (
        r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "aarch64": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "ppc64le": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x15\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\x00",
    ),
    "mips64el": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x08\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "s390x": (
        r"\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff",
    ),
    "riscv64": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00",
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
    "loongarch64": (
        r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x02\x01",
        r"\xff\xff\xff\xff\xff\xff\xff\xfc\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ),
}


# --- parse_arch -------------------------------------------------------------------------------

ALIASES = [
    ("x86_64", "x86_64"),
    ("amd64", "x86_64"),
    ("AMD64", "x86_64"),
    ("x86-64", "x86_64"),
    ("x64", "x86_64"),
    ("linux/amd64", "x86_64"),
    ("aarch64", "aarch64"),
    ("ARM64", "aarch64"),
    ("arm64v8", "aarch64"),
    ("linux/arm64/v8", "aarch64"),
    ("armv8l", "aarch64"),
    ("ppc64le", "ppc64le"),
    ("ppc64el", "ppc64le"),
    ("PowerPC64LE", "ppc64le"),
    ("s390x", "s390x"),
    ("S390X", "s390x"),
    ("riscv64", "riscv64"),
    ("rv64", "riscv64"),
    ("arm", "arm"),
    ("armhf", "arm"),
    ("armhfp", "arm"),
    ("armv7", "arm"),
    ("armv7l", "arm"),
    ("ARMv7hl", "arm"),
    ("arm32v7", "arm"),
    ("arm/v7", "arm"),
    ("linux/arm/v7", "arm"),
    ("LINUX/ARM/V7", "arm"),
    ("386", "i386"),
    ("i386", "i386"),
    ("i686", "i386"),
    ("x86", "i386"),
    ("ia32", "i386"),
    ("linux/386", "i386"),
    ("mips64el", "mips64el"),
    ("mips64le", "mips64el"),
    ("loong64", "loongarch64"),
    ("LoongArch64", "loongarch64"),
    ("  aarch64\n", "aarch64"),
]


@pytest.mark.parametrize(("given", "canonical"), ALIASES)
def test_parse_arch_maps_each_alias_to_its_architecture(given: str, canonical: str) -> None:
    assert parse_arch(given) is BY_NAME[canonical]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=str)
def test_parse_arch_accepts_every_spelling_in_upper_lower_and_mixed_case(arch: Arch) -> None:
    for spelling in arch.spellings():
        for variant in (spelling, spelling.upper(), spelling.title(), f"linux/{spelling}"):
            assert parse_arch(variant) is arch, variant


def test_no_spelling_names_two_architectures() -> None:
    seen: dict[str, str] = {}
    for arch in ARCHITECTURES:
        for spelling in arch.spellings():
            assert seen.setdefault(spelling, arch.name) == arch.name, spelling


@pytest.mark.parametrize("given", ["sparc64", "armel", "arm/v6", "linux/arm/v6", "mips", "ppc64",
                                   "x86_65", "linux/", "amd64 arm64"])
def test_parse_arch_rejects_unknown_names_listing_the_supported_ones(given: str) -> None:
    with pytest.raises(UnknownArchError) as info:
        parse_arch(given)
    message = str(info.value)
    assert repr(given) in message
    assert "not a supported architecture" in message
    for name in supported_names():
        assert name in message
    assert info.value.given == given


@pytest.mark.parametrize("given", ["", "   "])
def test_parse_arch_rejects_an_empty_name_saying_it_is_empty(given: str) -> None:
    with pytest.raises(UnknownArchError) as info:
        parse_arch(given)
    message = str(info.value)
    assert message.startswith("an empty name is not a supported architecture")
    assert "x86_64 (amd64)" in message
    assert "arm (arm/v7)" in message


def test_unknown_arch_error_is_a_value_error() -> None:
    assert issubclass(UnknownArchError, ValueError)


def test_supported_names_lists_every_architecture_with_its_oci_name() -> None:
    names = supported_names()
    assert len(names) == len(ARCHITECTURES)
    assert "x86_64 (amd64)" in names
    assert "aarch64 (arm64)" in names
    assert "arm (arm/v7)" in names
    assert "i386 (386)" in names
    assert "s390x" in names  # same canonical and OCI name: shown once
    assert "loongarch64 (loong64)" in names


# --- from_uname / from_oci --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("machine", "canonical"),
    [
        ("x86_64", "x86_64"),
        ("i686", "i386"),
        ("i586", "i386"),
        ("i386", "i386"),
        ("armv7l", "arm"),
        ("aarch64", "aarch64"),
        ("armv8l", "aarch64"),
        ("ppc64le", "ppc64le"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
        ("loongarch64", "loongarch64"),
    ],
)
def test_from_uname_maps_machine_names(machine: str, canonical: str) -> None:
    assert from_uname(machine) is BY_NAME[canonical]


def test_from_uname_takes_little_endian_mips64_as_mips64el(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arch_mod.sys, "byteorder", "little")
    assert from_uname("mips64") is BY_NAME["mips64el"]


def test_from_uname_refuses_big_endian_mips64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arch_mod.sys, "byteorder", "big")
    with pytest.raises(UnknownArchError):
        from_uname("mips64")


@pytest.mark.parametrize("machine", ["sparc64", "armv6l", "ppc64", "", "X86_64"])
def test_from_uname_rejects_machines_it_does_not_support(machine: str) -> None:
    with pytest.raises(UnknownArchError):
        from_uname(machine)


@pytest.mark.parametrize(
    ("architecture", "variant", "canonical"),
    [
        ("amd64", None, "x86_64"),
        ("arm64", None, "aarch64"),
        ("arm64", "v8", "aarch64"),
        ("arm", "v7", "arm"),
        ("arm", None, "arm"),
        ("386", None, "i386"),
        ("ppc64le", None, "ppc64le"),
        ("s390x", None, "s390x"),
        ("riscv64", None, "riscv64"),
        ("mips64le", None, "mips64el"),
        ("loong64", None, "loongarch64"),
    ],
)
def test_from_oci_maps_image_config_architectures(
    architecture: str, variant: str | None, canonical: str
) -> None:
    assert from_oci(architecture, variant) is BY_NAME[canonical]


@pytest.mark.parametrize(("architecture", "variant"),
                         [("arm", "v6"), ("arm", "v5"), ("sparc64", None), ("aarch64", None),
                          ("x86_64", None), ("", None)])
def test_from_oci_returns_none_for_what_crossbox_cannot_run(
    architecture: str, variant: str | None
) -> None:
    assert from_oci(architecture, variant) is None


def test_platform_strings_carry_the_arm_variant() -> None:
    assert BY_NAME["arm"].platform == "linux/arm/v7"
    assert BY_NAME["aarch64"].platform == "linux/arm64"
    assert BY_NAME["i386"].platform == "linux/386"


def test_binfmt_and_emulator_names_follow_qemu() -> None:
    a = BY_NAME["aarch64"]
    assert a.binfmt_name == "qemu-aarch64"
    assert a.emulator_names == ("qemu-aarch64-static", "qemu-aarch64")
    assert BY_NAME["x86_64"].suffix == "amd64"


# --- magic and mask ---------------------------------------------------------------------------

def test_table_covers_exactly_the_architectures_with_qemu_strings() -> None:
    assert {a.name for a in ARCHITECTURES} == set(QEMU_BINFMT_CONF)


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=str)
def test_magic_and_mask_text_are_verbatim_from_qemu_binfmt_conf(arch: Arch) -> None:
    assert (arch.magic_text, arch.mask_text) == QEMU_BINFMT_CONF[arch.name]


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=str)
def test_magic_and_mask_have_the_same_length_below_128(arch: Arch) -> None:
    assert len(arch.magic) == len(arch.mask)
    assert 0 < len(arch.magic) < 128


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=str)
def test_magic_decodes_to_the_elf_identity_of_the_table_row(arch: Arch) -> None:
    magic = arch.magic
    assert magic[:4] == b"\x7fELF"
    assert magic[4] == (2 if arch.elf_class == 64 else 1)
    assert magic[5] == (1 if arch.byteorder == "little" else 2)
    assert int.from_bytes(magic[18:20], arch.byteorder) == arch.e_machine
    assert len(arch.magic_text) == 4 * len(magic) - 9  # "ELF" is literal text, all else \xHH
    assert len(arch.mask_text) == 4 * len(arch.mask)  # every mask byte is \xHH


def test_real_headers_cover_every_architecture_but_loongarch64() -> None:
    assert sorted(name for name, _, _ in REAL_HEADERS) == sorted(
        a.name for a in ARCHITECTURES if a.name != "loongarch64"
    )
    for _, header, _ in REAL_HEADERS:
        assert len(header) == 64


@pytest.mark.parametrize(("name", "header", "source"), REAL_HEADERS,
                         ids=[h[0] for h in REAL_HEADERS])
def test_real_header_fields_agree_with_the_table_row(name: str, header: bytes, source: str) -> None:
    arch = BY_NAME[name]
    assert header[:4] == b"\x7fELF", source
    assert header[4] == (2 if arch.elf_class == 64 else 1)
    assert header[5] == (1 if arch.byteorder == "little" else 2)
    assert int.from_bytes(header[18:20], arch.byteorder) == arch.e_machine


@pytest.mark.parametrize(("name", "header", "source"), ALL_HEADERS, ids=[h[0] for h in ALL_HEADERS])
def test_binfmt_entry_claims_its_own_architectures_elf_file(
    name: str, header: bytes, source: str
) -> None:
    assert BY_NAME[name].matches_elf(header), source


@pytest.mark.parametrize(("name", "header", "source"), ALL_HEADERS, ids=[h[0] for h in ALL_HEADERS])
def test_no_other_binfmt_entry_claims_an_architectures_elf_file(
    name: str, header: bytes, source: str
) -> None:
    claimed_by = [a.name for a in ARCHITECTURES if a.matches_elf(header)]
    assert claimed_by == [name], source
    assert from_elf_header(header) is BY_NAME[name]


@pytest.mark.parametrize(("name", "header", "source"), ALL_HEADERS, ids=[h[0] for h in ALL_HEADERS])
def test_entry_claims_both_executables_and_position_independent_ones(
    name: str, header: bytes, source: str
) -> None:
    arch = BY_NAME[name]
    for e_type in (2, 3):  # ET_EXEC, ET_DYN
        changed = bytearray(header)
        changed[16:18] = e_type.to_bytes(2, arch.byteorder)
        assert from_elf_header(bytes(changed)) is arch, (source, e_type)


@pytest.mark.parametrize(("name", "header", "source"), ALL_HEADERS, ids=[h[0] for h in ALL_HEADERS])
def test_relocatable_objects_and_core_files_are_claimed_by_no_entry(
    name: str, header: bytes, source: str
) -> None:
    arch = BY_NAME[name]
    for e_type in (1, 4):  # ET_REL, ET_CORE
        changed = bytearray(header)
        changed[16:18] = e_type.to_bytes(2, arch.byteorder)
        assert from_elf_header(bytes(changed)) is None, (source, e_type)


def test_header_shorter_than_the_magic_matches_nothing() -> None:
    header = REAL_HEADERS[0][1]
    assert not any(a.matches_elf(header[:19]) for a in ARCHITECTURES)
    assert from_elf_header(b"") is None


def test_non_elf_data_matches_nothing() -> None:
    assert from_elf_header(b"#!/bin/sh\n" + bytes(54)) is None
