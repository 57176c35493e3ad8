"""The architecture table that the host launcher and the guest agent share.

Stdlib only: the guest imports this inside foreign images.

Magic and mask strings are copied verbatim from QEMU's
``scripts/qemu-binfmt-conf.sh`` (QEMU master as of 2025; the strings for
the architectures below are unchanged since loongarch64 was added).
"""

from __future__ import annotations

import os
import sys

from crossbox.shared.records import NamedTuple

__all__ = [
    "ARCHITECTURES",
    "Arch",
    "UnknownArchError",
    "from_elf_header",
    "from_oci",
    "from_uname",
    "host_arch",
    "parse_arch",
    "platform_text",
    "supported_names",
]


def _unescape(text: str) -> bytes:
    """Turn a shell-script string such as ``\\x7fELF\\x02`` into bytes."""
    return text.encode("ascii").decode("unicode_escape").encode("latin-1")


def platform_text(architecture: str, variant: str | None = None, os_name: str | None = None) -> str:
    """``[os/]architecture[/variant]``, as OCI platforms are written."""
    text = f"{architecture}/{variant}" if variant else architecture
    return f"{os_name}/{text}" if os_name else text


class Arch(NamedTuple):
    """One CPU architecture, with every name the outside world uses for it."""

    name: str  # our canonical name, as `uname -m` spells it on the usual machine
    oci: str  # OCI / Go GOARCH name ("arm64")
    variant: str | None  # OCI variant ("v7" for 32-bit arm), else None
    unames: tuple[str, ...]  # what `uname -m` prints on such a machine
    aliases: tuple[str, ...]  # further accepted spellings (Debian, Fedora, Docker)
    qemu: str  # qemu-<qemu> is the user-mode emulator
    elf_class: int  # 32 or 64
    byteorder: str  # "little" or "big"
    e_machine: int
    magic_text: str  # exactly as in qemu-binfmt-conf.sh
    mask_text: str
    elf_machine: str  # the e_machine constant's name (as pyelftools reports it)
    gnu_triplet: str  # GNU system type: cross tools are <triplet>-gcc, <triplet>-ld, ...
    debian: str  # Debian's architecture name (dpkg --print-architecture)
    fedora_qemu_package: str  # Fedora splits qemu-user-static per target family

    @property
    def magic(self) -> bytes:
        return _unescape(self.magic_text)

    @property
    def mask(self) -> bytes:
        return _unescape(self.mask_text)

    @property
    def suffix(self) -> str:
        """The one suffix this architecture gets in image tags and container names."""
        return self.oci

    @property
    def platform(self) -> str:
        """OCI platform string, e.g. ``linux/arm/v7``."""
        return platform_text(self.oci, self.variant, "linux")

    @property
    def oci_platform(self) -> str:
        """The OCI architecture with its variant, e.g. ``arm/v7`` or ``arm64``."""
        return platform_text(self.oci, self.variant)

    @property
    def binfmt_name(self) -> str:
        return f"qemu-{self.qemu}"

    @property
    def emulator_names(self) -> tuple[str, str]:
        """Emulator file names to look for, preferred first."""
        return (f"qemu-{self.qemu}-static", f"qemu-{self.qemu}")

    def spellings(self) -> tuple[str, ...]:
        names = [self.name, self.oci, *self.unames, *self.aliases]
        if self.variant:
            names.append(self.oci_platform)
        return tuple(dict.fromkeys(n.lower() for n in names))

    def matches_elf(self, header: bytes) -> bool:
        """Whether the kernel would hand a file starting with ``header`` to this entry."""
        magic, mask = self.magic, self.mask
        if len(header) < len(magic):
            return False
        return all((header[i] & mask[i]) == (magic[i] & mask[i]) for i in range(len(magic)))

    def __str__(self) -> str:
        return self.name


ARCHITECTURES: tuple[Arch, ...] = (
    Arch(
        name="x86_64",
        oci="amd64",
        variant=None,
        unames=("x86_64",),
        aliases=("x86-64", "x64", "amd64"),
        qemu="x86_64",
        elf_class=64,
        byteorder="little",
        e_machine=62,
        magic_text=r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_X86_64",
        gnu_triplet="x86_64-linux-gnu",
        debian="amd64",
        fedora_qemu_package="qemu-user-static-x86",
    ),
    Arch(
        name="aarch64",
        oci="arm64",
        variant=None,
        unames=("aarch64", "armv8b", "armv8l"),
        aliases=("arm64", "arm64v8", "arm64/v8"),
        qemu="aarch64",
        elf_class=64,
        byteorder="little",
        e_machine=183,
        magic_text=r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_AARCH64",
        gnu_triplet="aarch64-linux-gnu",
        debian="arm64",
        fedora_qemu_package="qemu-user-static-aarch64",
    ),
    Arch(
        name="ppc64le",
        oci="ppc64le",
        variant=None,
        unames=("ppc64le",),
        aliases=("ppc64el", "powerpc64le"),
        qemu="ppc64le",
        elf_class=64,
        byteorder="little",
        e_machine=21,
        magic_text=r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x15\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\x00",
        elf_machine="EM_PPC64",
        gnu_triplet="powerpc64le-linux-gnu",
        debian="ppc64el",
        fedora_qemu_package="qemu-user-static-ppc",
    ),
    Arch(
        name="s390x",
        oci="s390x",
        variant=None,
        unames=("s390x",),
        aliases=("s390x",),
        qemu="s390x",
        elf_class=64,
        byteorder="big",
        e_machine=22,
        magic_text=r"\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff",
        elf_machine="EM_S390",
        gnu_triplet="s390x-linux-gnu",
        debian="s390x",
        fedora_qemu_package="qemu-user-static-s390x",
    ),
    Arch(
        name="riscv64",
        oci="riscv64",
        variant=None,
        unames=("riscv64",),
        aliases=("rv64",),
        qemu="riscv64",
        elf_class=64,
        byteorder="little",
        e_machine=243,
        magic_text=r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_RISCV",
        gnu_triplet="riscv64-linux-gnu",
        debian="riscv64",
        fedora_qemu_package="qemu-user-static-riscv",
    ),
    Arch(
        name="arm",
        oci="arm",
        variant="v7",
        unames=("armv7l", "armv7hl"),
        aliases=("armv7", "armhf", "armhfp", "arm32v7", "arm/v7", "armv7hl"),
        qemu="arm",
        elf_class=32,
        byteorder="little",
        e_machine=40,
        magic_text=r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_ARM",
        gnu_triplet="arm-linux-gnueabihf",
        debian="armhf",
        fedora_qemu_package="qemu-user-static-arm",
    ),
    Arch(
        name="i386",
        oci="386",
        variant=None,
        unames=("i386", "i486", "i586", "i686"),
        aliases=("x86", "ia32"),
        qemu="i386",
        elf_class=32,
        byteorder="little",
        e_machine=3,
        magic_text=r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_386",
        gnu_triplet="i686-linux-gnu",
        debian="i386",
        fedora_qemu_package="qemu-user-static-x86",
    ),
    Arch(
        name="mips64el",
        oci="mips64le",
        variant=None,
        unames=("mips64",),  # a little-endian mips64 kernel still says "mips64"
        aliases=("mips64el",),
        qemu="mips64el",
        elf_class=64,
        byteorder="little",
        e_machine=8,
        magic_text=r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x08\x00",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\x00\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_MIPS",
        gnu_triplet="mips64el-linux-gnuabi64",
        debian="mips64el",
        fedora_qemu_package="qemu-user-static-mips",
    ),
    Arch(
        name="loongarch64",
        oci="loong64",
        variant=None,
        unames=("loongarch64",),
        aliases=("loong64",),
        qemu="loongarch64",
        elf_class=64,
        byteorder="little",
        e_machine=258,
        magic_text=r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x02\x01",
        mask_text=r"\xff\xff\xff\xff\xff\xff\xff\xfc\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine="EM_LOONGARCH",
        gnu_triplet="loongarch64-linux-gnu",
        debian="loong64",
        fedora_qemu_package="qemu-user-static-loongarch64",
    ),
)


class UnknownArchError(ValueError):
    """A name that is no architecture crossbox knows."""

    def __init__(self, given: str) -> None:
        self.given = given
        shown = repr(given) if given.strip() else "an empty name"
        super().__init__(
            f"{shown} is not a supported architecture; use one of: {', '.join(supported_names())}"
        )


def supported_names() -> list[str]:
    """Canonical names with their OCI names, for help texts and errors."""
    out = []
    for arch in ARCHITECTURES:
        oci = arch.oci_platform
        out.append(arch.name if arch.name == oci else f"{arch.name} ({oci})")
    return out


_BY_SPELLING: dict[str, Arch] = {}
for _arch in ARCHITECTURES:
    for _spelling in _arch.spellings():
        if _spelling in _BY_SPELLING and _BY_SPELLING[_spelling] is not _arch:
            raise AssertionError(f"architecture spelling {_spelling!r} is ambiguous")
        _BY_SPELLING[_spelling] = _arch
del _arch, _spelling


def parse_arch(text: str) -> Arch:
    """Any accepted spelling, in any case, to its Arch; else UnknownArchError."""
    key = text.strip().lower()
    if key.startswith("linux/"):
        key = key[len("linux/") :]
    arch = _BY_SPELLING.get(key)
    if arch is None:
        raise UnknownArchError(text)
    return arch


def from_oci(architecture: str, variant: str | None = None) -> Arch | None:
    """The Arch an OCI image config names, or None when crossbox does not know it.

    For 32-bit arm only variant v7 (or no variant) is accepted.
    """
    for arch in ARCHITECTURES:
        if arch.oci == architecture:
            if arch.variant and variant and variant != arch.variant:
                return None
            return arch
    return None


def from_uname(machine: str) -> Arch:
    """Map `uname -m` output to an Arch."""
    if machine == "mips64" and sys.byteorder == "big":
        raise UnknownArchError(machine)
    for arch in ARCHITECTURES:
        if machine in arch.unames or machine == arch.name:
            return arch
    raise UnknownArchError(machine)


def host_arch() -> Arch:
    return from_uname(os.uname().machine)


def from_elf_header(header: bytes) -> Arch | None:
    """The one architecture whose binfmt entry would claim this ELF header."""
    found = [arch for arch in ARCHITECTURES if arch.matches_elf(header)]
    return found[0] if len(found) == 1 else None
