"""crossbox.guest.safefs: writes into an image that never follow the image's symbolic links.

On the real file system of the test machine (tmp_path as the image's root): the kernel's
own O_NOFOLLOW is what is tested, and the host file the hostile link points at is a real one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from crossbox.guest import safefs
from crossbox.guest.safefs import UnsafePath


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "run").mkdir()
    return root


@pytest.fixture
def precious(tmp_path: Path) -> Path:
    """A file of the user's, outside the image, that a hostile link points at."""
    path = tmp_path / "home" / "notes.txt"
    path.parent.mkdir()
    path.write_text("mine\n")
    return path


def test_write_then_read_round_trips_and_leaves_no_temporary_file(image: Path) -> None:
    safefs.write_text("/etc/hosts", "127.0.0.1 localhost\n", root=str(image), mode=0o644)
    assert safefs.read_text("/etc/hosts", root=str(image)) == "127.0.0.1 localhost\n"
    assert os.listdir(image / "etc") == ["hosts"]
    assert stat.S_IMODE(os.stat(image / "etc" / "hosts").st_mode) == 0o644


def test_a_rewrite_keeps_the_files_mode(image: Path) -> None:
    (image / "etc" / "shadow").write_text("root:*:1::::::\n")
    os.chmod(image / "etc" / "shadow", 0o640)
    safefs.write_text("/etc/shadow", "root:!:1::::::\n", root=str(image), mode=0o600)
    assert stat.S_IMODE(os.stat(image / "etc" / "shadow").st_mode) == 0o640


def test_a_link_where_a_file_is_written_is_replaced_never_followed(image: Path, precious: Path) -> None:
    (image / "run" / ".toolboxenv").symlink_to(precious)
    safefs.write_text("/run/.toolboxenv", "", root=str(image))
    assert precious.read_text() == "mine\n"
    assert not (image / "run" / ".toolboxenv").is_symlink()


def test_a_link_where_a_directory_is_walked_is_refused(image: Path, tmp_path: Path) -> None:
    target = tmp_path / "home" / "bin"
    target.mkdir(parents=True)
    (image / "etc" / "sudoers.d").symlink_to(target)
    with pytest.raises(UnsafePath) as err:
        safefs.write_text("/etc/sudoers.d/crossbox", "alice ALL=(ALL) NOPASSWD: ALL\n", root=str(image))
    assert "/etc/sudoers.d is a symbolic link" in str(err.value)
    assert os.listdir(target) == []


def test_reading_through_a_link_is_refused_or_absent(image: Path, precious: Path) -> None:
    (image / "etc" / "passwd").symlink_to(precious)
    with pytest.raises(UnsafePath):
        safefs.read_text("/etc/passwd", root=str(image))
    assert safefs.read_text("/etc/passwd", root=str(image), link_is_absent=True) is None


def test_a_directory_where_a_file_is_written_is_refused(image: Path) -> None:
    (image / "etc" / "hosts").mkdir()
    with pytest.raises(UnsafePath):
        safefs.write_text("/etc/hosts", "x\n", root=str(image))


@pytest.mark.parametrize("path", ["etc/hosts", "/etc/../../outside", "/"])
def test_only_plain_absolute_paths_are_taken(image: Path, path: str) -> None:
    with pytest.raises(UnsafePath):
        safefs.write_text(path, "x", root=str(image))


def test_make_dirs_makes_what_is_missing_and_refuses_links(image: Path, tmp_path: Path) -> None:
    assert safefs.make_dirs("/etc/sudoers.d", mode=0o750, root=str(image))
    assert not safefs.make_dirs("/etc/sudoers.d", mode=0o750, root=str(image))
    assert stat.S_IMODE(os.stat(image / "etc" / "sudoers.d").st_mode) == 0o750
    (image / "home").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        safefs.make_dirs("/home/alice", root=str(image))


def test_symlink_replaces_atomically_and_reports_no_change(image: Path) -> None:
    (image / "etc" / "resolv.conf").write_text("nameserver 10.0.0.1\n")
    assert safefs.symlink("/run/host/etc/resolv.conf", "/etc/resolv.conf", root=str(image))
    assert os.readlink(image / "etc" / "resolv.conf") == "/run/host/etc/resolv.conf"
    assert not safefs.symlink("/run/host/etc/resolv.conf", "/etc/resolv.conf", root=str(image))


def test_non_utf8_bytes_survive_a_read_write_round_trip(image: Path) -> None:
    raw = b"caf\xe9:x:1000:\n"
    (image / "etc" / "group").write_bytes(raw)
    text = safefs.read_text("/etc/group", root=str(image))
    assert text is not None
    safefs.write_text("/etc/group", text, root=str(image))
    assert (image / "etc" / "group").read_bytes() == raw


def test_open_lock_replaces_a_link_never_opening_its_target(image: Path, precious: Path) -> None:
    (image / "etc" / ".pwd.lock").symlink_to(precious)
    fd = safefs.open_lock("/etc/.pwd.lock", root=str(image))
    os.close(fd)
    assert not (image / "etc" / ".pwd.lock").is_symlink()
    assert precious.read_text() == "mine\n"
