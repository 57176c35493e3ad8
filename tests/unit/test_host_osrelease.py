"""crossbox.host.osrelease: os-release (read by the standard library), distribution families and
install hints."""

from __future__ import annotations

import platform

import pytest
from crossbox.host.osrelease import (
    OsRelease,
    package_install_hint,
    qemu_install_hint,
    read_os_release,
)
from crossbox.shared.arch import parse_arch


def parse(text: str) -> dict[str, str]:
    """os-release text as platform.freedesktop_os_release() reads it (its own parser)."""
    return platform._parse_os_release(text.splitlines())  # type: ignore[attr-defined,no-any-return]


def os_release(text: str) -> OsRelease:
    return OsRelease.from_mapping(parse(text))

FEDORA = """\
NAME="Fedora Linux"
VERSION="42 (Workstation Edition)"
RELEASE_TYPE=stable
ID=fedora
VERSION_ID=42
VERSION_CODENAME=""
PLATFORM_ID="platform:f42"
PRETTY_NAME="Fedora Linux 42 (Workstation Edition)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:42"
HOME_URL="https://fedoraproject.org/"
SUPPORT_END=2026-05-13
VARIANT="Workstation Edition"
VARIANT_ID=workstation
"""

DEBIAN = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

UBUNTU = """\
PRETTY_NAME="Ubuntu 24.04.2 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.2 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""

ARCH = """\
NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
HOME_URL="https://archlinux.org/"
LOGO=archlinux-logo
"""

OPENSUSE = """\
NAME="openSUSE Tumbleweed"
# VERSION="20250601"
ID="opensuse-tumbleweed"
ID_LIKE="opensuse suse"
VERSION_ID="20250601"
PRETTY_NAME="openSUSE Tumbleweed"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:tumbleweed:20250601"
"""

ROCKY = """\
NAME="Rocky Linux"
VERSION="9.5 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.5"
"""


@pytest.mark.parametrize(("text", "expected", "family"), [
    (FEDORA, OsRelease("fedora", (), "42", ""), "fedora"),
    (DEBIAN, OsRelease("debian", (), "12", "bookworm"), "debian"),
    (UBUNTU, OsRelease("ubuntu", ("debian",), "24.04", "noble"), "debian"),
    (ARCH, OsRelease("arch", (), "", ""), "arch"),
    (OPENSUSE, OsRelease("opensuse-tumbleweed", ("opensuse", "suse"), "20250601", ""), "suse"),
    (ROCKY, OsRelease("rocky", ("rhel", "centos", "fedora"), "9.5", ""), "fedora"),
], ids=["fedora", "debian", "ubuntu", "arch", "opensuse", "rocky"])
def test_parse_os_release_and_family(text: str, expected: OsRelease, family: str) -> None:
    osr = os_release(text)
    assert osr == expected
    assert osr.family() == family


def test_empty_os_release_has_no_family() -> None:
    assert OsRelease.from_mapping({}) == OsRelease()
    assert OsRelease().family() == ""


@pytest.mark.parametrize(("text", "arch", "hint"), [
    (FEDORA, "aarch64", "install it with `dnf install qemu-user-static-aarch64`"),
    (FEDORA, "armv7", "install it with `dnf install qemu-user-static-arm`"),
    (FEDORA, "ppc64le", "install it with `dnf install qemu-user-static-ppc`"),
    (ROCKY, "s390x", "install it with `dnf install qemu-user-static-s390x`"),
    (DEBIAN, "aarch64", "install it with `apt-get install qemu-user-static`"),
    (UBUNTU, "riscv64", "install it with `apt-get install qemu-user-static`"),
    (ARCH, "aarch64", "install it with `pacman -S qemu-user-static`"),
    (OPENSUSE, "aarch64", "install it with `zypper install qemu-linux-user`"),
], ids=["fedora", "fedora-arm", "fedora-ppc", "rocky", "debian", "ubuntu", "arch", "opensuse"])
def test_qemu_install_hint_per_family(text: str, arch: str, hint: str) -> None:
    assert qemu_install_hint(parse_arch(arch), os_release(text)) == hint


def test_qemu_install_hint_for_an_unknown_distribution_lists_them_all() -> None:
    hint = qemu_install_hint(parse_arch("s390x"), OsRelease(id="gentoo"))
    assert hint.startswith("install a static qemu-s390x")
    for part in ("dnf install qemu-user-static-s390x", "apt-get install qemu-user-static",
                 "pacman -S qemu-user-static", "zypper install qemu-linux-user"):
        assert part in hint


@pytest.mark.parametrize(("text", "hint"), [
    (FEDORA, "install it with `dnf install skopeo`"),
    (UBUNTU, "install it with `apt-get install skopeo`"),
    (ARCH, "install it with `pacman -S skopeo`"),
    (OPENSUSE, "install it with `zypper install skopeo`"),
    ("ID=gentoo\n", "install skopeo"),
])
def test_package_install_hint(text: str, hint: str) -> None:
    assert package_install_hint("skopeo", os_release(text)) == hint


def test_read_os_release_takes_what_the_standard_library_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "freedesktop_os_release", lambda: parse(UBUNTU))
    assert read_os_release() == OsRelease("ubuntu", ("debian",), "24.04", "noble")


def test_read_os_release_with_no_file_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> dict[str, str]:
        raise OSError("Unable to read files /etc/os-release, /usr/lib/os-release")

    monkeypatch.setattr(platform, "freedesktop_os_release", missing)
    assert read_os_release() == OsRelease()
