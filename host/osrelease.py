"""The host's os-release, and package names per distribution for hints."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from crossbox.shared.arch import Arch

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")

# Fedora splits qemu-user-static per target family.
FEDORA_QEMU_PACKAGE = {
    "x86_64": "qemu-user-static-x86",
    "i386": "qemu-user-static-x86",
    "aarch64": "qemu-user-static-aarch64",
    "arm": "qemu-user-static-arm",
    "ppc64le": "qemu-user-static-ppc",
    "s390x": "qemu-user-static-s390x",
    "riscv64": "qemu-user-static-riscv",
    "mips64el": "qemu-user-static-mips",
    "loongarch64": "qemu-user-static-loongarch64",
}


@dataclass(frozen=True)
class OsRelease:
    id: str = ""
    id_like: tuple[str, ...] = ()
    version_id: str = ""
    version_codename: str = ""

    def family(self) -> str:
        """One of fedora, debian, arch, suse, or the plain ID."""
        for i in (self.id, *self.id_like):
            if i in ("fedora", "rhel", "centos", "almalinux", "rocky"):
                return "fedora"
            if i in ("debian", "ubuntu"):
                return "debian"
            if i in ("arch", "archlinux"):
                return "arch"
            if i in ("suse", "sles") or i.startswith("opensuse"):
                return "suse"
        return self.id


def parse_os_release(text: str) -> OsRelease:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
        except ValueError:
            continue
        values[key] = parts[0] if parts else ""
    return OsRelease(
        id=values.get("ID", "").lower(),
        id_like=tuple(values.get("ID_LIKE", "").lower().split()),
        version_id=values.get("VERSION_ID", ""),
        version_codename=values.get("VERSION_CODENAME", ""),
    )


def read_os_release() -> OsRelease:
    for path in OS_RELEASE_PATHS:
        try:
            with open(path, encoding="utf-8") as f:
                return parse_os_release(f.read())
        except OSError:
            continue
    return OsRelease()


def qemu_install_hint(arch: Arch, osr: OsRelease) -> str:
    fedora = f"dnf install {FEDORA_QEMU_PACKAGE.get(arch.name, 'qemu-user-static')}"
    by_family = {
        "fedora": fedora,
        "debian": "apt-get install qemu-user-static",
        "arch": "pacman -S qemu-user-static",
        "suse": "zypper install qemu-linux-user",
    }
    family = osr.family()
    if family in by_family:
        return f"install it with `{by_family[family]}`"
    return (
        f"install a static qemu-{arch.qemu} (Fedora: {fedora}; Debian/Ubuntu: apt-get install "
        "qemu-user-static; Arch: pacman -S qemu-user-static; openSUSE: zypper install "
        "qemu-linux-user)"
    )


def package_install_hint(package: str, osr: OsRelease) -> str:
    family = osr.family()
    command = {
        "fedora": f"dnf install {package}",
        "debian": f"apt-get install {package}",
        "arch": f"pacman -S {package}",
        "suse": f"zypper install {package}",
    }.get(family)
    return f"install it with `{command}`" if command else f"install {package}"
