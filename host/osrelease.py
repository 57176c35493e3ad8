"""The host's os-release (through the standard library), and package names per distribution."""

from __future__ import annotations

from collections.abc import Mapping

from crossbox.shared.arch import Arch
from crossbox.shared.records import NamedTuple


class OsRelease(NamedTuple):
    id: str = ""
    id_like: tuple[str, ...] = ()
    version_id: str = ""
    version_codename: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> OsRelease:
        """From what ``platform.freedesktop_os_release()`` returns."""
        return cls(
            id=values.get("ID", "").lower(),
            id_like=tuple(values.get("ID_LIKE", "").lower().split()),
            version_id=values.get("VERSION_ID", ""),
            version_codename=values.get("VERSION_CODENAME", ""),
        )

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


def read_os_release() -> OsRelease:
    """/etc/os-release, else /usr/lib/os-release; empty when neither can be read."""
    import platform

    try:
        return OsRelease.from_mapping(platform.freedesktop_os_release())
    except OSError:
        return OsRelease()


def qemu_install_hint(arch: Arch, osr: OsRelease) -> str:
    fedora = f"dnf install {arch.fedora_qemu_package}"
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
