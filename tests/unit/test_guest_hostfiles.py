"""crossbox.guest.hostfiles: links to the host's /etc files (resolved in /run/host), /etc/hosts with the
box's name, /etc/timezone, markers; never through the image's links."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from crossbox.guest import hostfiles, safefs
from crossbox.guest.hostfiles import (
    FOLLOWED,
    HostsFile,
    follow_host_files,
    follow_timezone,
    hosts_text,
    resolve_host_path,
    timezone_name,
    write_markers,
)
from crossbox.guest.safefs import UnsafePath
from crossbox.shared.contract import HOST_ROOT, MARKER, TOOLBOX_MARKER
from pyfakefs.fake_filesystem import FakeFilesystem

HOST = HOST_ROOT  # "/run/host"
STUB = "/run/systemd/resolve/stub-resolv.conf"
BERLIN = "/usr/share/zoneinfo/Europe/Berlin"


@pytest.fixture
def host(fs: FakeFilesystem) -> FakeFilesystem:
    """A systemd-resolved host with a relative /etc/localtime, seen under /run/host."""
    fs.create_file(f"{HOST}/etc/hosts", contents="127.0.0.1 localhost\n")
    fs.create_file(f"{HOST}/etc/host.conf", contents="multi on\n")
    fs.create_file(f"{HOST}{STUB}", contents="nameserver 127.0.0.53\n")
    fs.create_symlink(f"{HOST}/etc/resolv.conf", STUB)
    fs.create_file(f"{HOST}{BERLIN}", contents="TZif")
    fs.create_symlink(f"{HOST}/etc/localtime", f"..{BERLIN}")
    # The container's own files, which the links replace.
    fs.create_file("/etc/hosts", contents="127.0.0.1 image\n")
    fs.create_file("/etc/resolv.conf", contents="nameserver 10.0.2.3\n")
    return fs


# --- resolve_host_path ------------------------------------------------------------------------

def test_absolute_link_is_followed_inside_the_host_root(host: FakeFilesystem) -> None:
    assert resolve_host_path("/etc/resolv.conf") == f"{HOST}{STUB}"


def test_absolute_link_never_resolves_to_the_containers_own_file(host: FakeFilesystem) -> None:
    os.unlink(f"{HOST}{STUB}")
    host.create_file(STUB, contents="nameserver 10.9.9.9\n")  # the container's, not the host's
    assert resolve_host_path("/etc/resolv.conf") is None


def test_relative_link_is_followed_from_the_links_directory(host: FakeFilesystem) -> None:
    assert resolve_host_path("/etc/localtime") == f"{HOST}{BERLIN}"


def test_plain_file_resolves_to_itself_under_the_host_root(host: FakeFilesystem) -> None:
    assert resolve_host_path("/etc/hosts") == f"{HOST}/etc/hosts"


def test_links_in_directories_on_the_way_are_followed_too(fs: FakeFilesystem) -> None:
    fs.create_file(f"{HOST}/run/NetworkManager/resolv.conf", contents="nameserver 192.168.1.1\n")
    fs.create_symlink(f"{HOST}/var/run", "../run")
    fs.create_symlink(f"{HOST}/etc/resolv.conf", "/var/run/NetworkManager/resolv.conf")
    assert resolve_host_path("/etc/resolv.conf") == f"{HOST}/run/NetworkManager/resolv.conf"


def test_dot_dot_cannot_climb_out_of_the_host_root(fs: FakeFilesystem) -> None:
    fs.create_file(f"{HOST}/usr/share/zoneinfo/UTC", contents="TZif")
    fs.create_file("/usr/share/zoneinfo/UTC", contents="container")
    fs.create_symlink(f"{HOST}/etc/localtime", "../../../../../usr/share/zoneinfo/UTC")
    assert resolve_host_path("/etc/localtime") == f"{HOST}/usr/share/zoneinfo/UTC"
    assert resolve_host_path("/../../etc/./localtime") == f"{HOST}/usr/share/zoneinfo/UTC"


def test_missing_host_file_resolves_to_none(host: FakeFilesystem) -> None:
    assert resolve_host_path("/etc/nonexistent") is None
    assert resolve_host_path("/nonexistent/dir/file") is None


def test_dangling_host_link_resolves_to_none(host: FakeFilesystem) -> None:
    host.create_symlink(f"{HOST}/etc/mtab", "/proc/self/mounts")
    assert resolve_host_path("/etc/mtab") is None


def test_link_loops_resolve_to_none(fs: FakeFilesystem) -> None:
    fs.create_symlink(f"{HOST}/etc/a", "b")
    fs.create_symlink(f"{HOST}/etc/b", "/etc/a")
    fs.create_symlink(f"{HOST}/etc/self", "self")
    assert resolve_host_path("/etc/a") is None
    assert resolve_host_path("/etc/self") is None


def test_a_long_but_finite_chain_of_links_is_followed(fs: FakeFilesystem) -> None:
    fs.create_file(f"{HOST}/etc/end", contents="x")
    for i in range(hostfiles.MAX_LINKS):
        fs.create_symlink(f"{HOST}/etc/l{i}", f"l{i + 1}" if i + 1 < hostfiles.MAX_LINKS else "end")
    assert resolve_host_path("/etc/l0") == f"{HOST}/etc/end"


def test_another_host_root_can_be_given(fs: FakeFilesystem) -> None:
    fs.create_file("/mnt/other/etc/hosts", contents="x")
    assert resolve_host_path("/etc/hosts", host_root="/mnt/other") == "/mnt/other/etc/hosts"


# --- follow_host_files ------------------------------------------------------------------------

def test_followed_files_are_resolv_conf_localtime_and_host_conf() -> None:
    assert FOLLOWED == ("/etc/resolv.conf", "/etc/localtime", "/etc/host.conf")


def test_follow_host_files_links_each_file_to_the_resolved_host_path(host: FakeFilesystem) -> None:
    changed = follow_host_files()
    assert changed == ["/etc/resolv.conf", "/etc/localtime", "/etc/host.conf"]
    assert os.readlink("/etc/resolv.conf") == f"{HOST}{STUB}"
    assert os.readlink("/etc/localtime") == f"{HOST}{BERLIN}"
    assert os.readlink("/etc/host.conf") == f"{HOST}/etc/host.conf"
    with open("/etc/resolv.conf", encoding="utf-8") as f:
        assert f.read() == "nameserver 127.0.0.53\n"


def test_follow_host_files_twice_changes_nothing_the_second_time(host: FakeFilesystem) -> None:
    follow_host_files()
    before = {p: os.readlink(p) for p in FOLLOWED}
    assert follow_host_files() == []
    assert {p: os.readlink(p) for p in FOLLOWED} == before
    assert not [n for n in os.listdir("/etc") if ".crossbox-" in n]


def test_follow_host_files_leaves_files_the_host_lacks(host: FakeFilesystem) -> None:
    os.unlink(f"{HOST}/etc/host.conf")
    host.create_file("/etc/host.conf", contents="order hosts\n")
    assert follow_host_files() == ["/etc/resolv.conf", "/etc/localtime"]
    assert not os.path.islink("/etc/host.conf")
    with open("/etc/host.conf", encoding="utf-8") as f:
        assert f.read() == "order hosts\n"


def test_follow_host_files_repoints_a_link_to_an_old_target(host: FakeFilesystem) -> None:
    host.create_symlink("/etc/localtime", "/usr/share/zoneinfo/UTC")
    assert follow_host_files(files=("/etc/localtime",)) == ["/etc/localtime"]
    assert os.readlink("/etc/localtime") == f"{HOST}{BERLIN}"


def test_follow_host_files_keeps_a_file_it_cannot_replace(
    host: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file podman bind-mounts: rename(2) over it is EBUSY.
    def busy(src: str, dst: str, **_: object) -> None:
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), dst)

    monkeypatch.setattr(safefs.os, "rename", busy)
    assert follow_host_files(files=("/etc/resolv.conf",)) == []
    assert not os.path.islink("/etc/resolv.conf")
    assert not [n for n in os.listdir("/etc") if ".crossbox-" in n]


def test_a_link_in_the_images_etc_is_refused_not_followed(fs: FakeFilesystem) -> None:
    fs.create_file(f"{HOST}/etc/resolv.conf", contents="nameserver 1.1.1.1\n")
    fs.create_dir("/home/alice/notes")
    fs.create_symlink("/etc", "/home/alice/notes")
    with pytest.raises(UnsafePath) as err:
        follow_host_files(files=("/etc/resolv.conf",))
    assert "/etc is a symbolic link" in str(err.value)
    assert os.listdir("/home/alice/notes") == []


# --- /etc/hosts -------------------------------------------------------------------------------

def test_hosts_text_adds_the_boxs_name_when_the_host_does_not_map_it() -> None:
    text = hosts_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n", "box-arm64")
    assert text.splitlines()[-1].split()[:2] == ["127.0.1.1", "box-arm64"]
    assert text.startswith("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")


@pytest.mark.parametrize("host_text", ["127.0.1.1 box-arm64\n", "10.0.0.5 server box-arm64 # me\n"])
def test_hosts_text_leaves_a_host_file_that_maps_the_name(host_text: str) -> None:
    assert hosts_text(host_text, "box-arm64") == host_text


def test_hosts_text_ignores_the_name_in_a_comment() -> None:
    assert "127.0.1.1\tbox" in hosts_text("# box\n127.0.0.1 localhost", "box")


def test_hosts_file_follows_the_hosts_changes(host: FakeFilesystem) -> None:
    hosts = HostsFile(hostname="box-arm64")
    assert hosts.refresh()
    with open("/etc/hosts", encoding="utf-8") as f:
        first = f.read()
    assert first.startswith("127.0.0.1 localhost\n") and "box-arm64" in first
    assert not os.path.islink("/etc/hosts")
    assert not hosts.refresh()  # unchanged: nothing written
    with open(f"{HOST}/etc/hosts", "a", encoding="utf-8") as f:
        f.write("192.168.1.9 printer\n")
    assert hosts.refresh()
    with open("/etc/hosts", encoding="utf-8") as f:
        assert "192.168.1.9 printer" in f.read()


def test_hosts_file_replaces_a_link_of_the_image_without_writing_through_it(host: FakeFilesystem) -> None:
    os.unlink("/etc/hosts")
    host.create_file("/home/alice/notes.txt", contents="mine\n")
    host.create_symlink("/etc/hosts", "/home/alice/notes.txt")
    assert HostsFile(hostname="box").refresh()
    assert not os.path.islink("/etc/hosts")
    with open("/home/alice/notes.txt", encoding="utf-8") as f:
        assert f.read() == "mine\n"


# --- /etc/timezone ----------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "zone"), [
    ("/run/host/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"),
    ("/run/host/usr/share/zoneinfo/posix/America/New_York", "America/New_York"),
    ("/run/host/etc/localtime", None),
    (None, None),
])
def test_timezone_name_from_the_localtime_link(target: str | None, zone: str | None) -> None:
    assert timezone_name(target) == zone


def test_timezone_is_written_from_the_hosts_localtime(host: FakeFilesystem) -> None:
    assert follow_timezone() == ["/etc/timezone"]
    with open("/etc/timezone", encoding="utf-8") as f:
        assert f.read() == "Europe/Berlin\n"
    assert follow_timezone() == []


def test_timezone_links_to_the_hosts_own_file(host: FakeFilesystem) -> None:
    host.create_file(f"{HOST}/etc/timezone", contents="Europe/Berlin\n")
    assert follow_timezone() == ["/etc/timezone"]
    assert os.readlink("/etc/timezone") == f"{HOST}/etc/timezone"


# --- write_markers ----------------------------------------------------------------------------

def test_write_markers_writes_the_crossbox_and_toolbox_markers(fs: FakeFilesystem) -> None:
    changed = write_markers("crossbox-debian-arm64", "aarch64")
    assert changed == [MARKER, TOOLBOX_MARKER, "/run/.toolbxenv"]
    assert (MARKER, TOOLBOX_MARKER) == ("/run/.crossboxenv", "/run/.toolboxenv")
    with open(MARKER, encoding="utf-8") as f:
        assert f.read() == "container=crossbox-debian-arm64\narch=aarch64\n"
    with open(TOOLBOX_MARKER, encoding="utf-8") as f:
        assert f.read() == ""
    for path in changed:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_write_markers_twice_changes_nothing_the_second_time(fs: FakeFilesystem) -> None:
    write_markers("box", "aarch64")
    assert write_markers("box", "aarch64") == []
    with open(MARKER, encoding="utf-8") as f:
        assert f.read() == "container=box\narch=aarch64\n"


def test_write_markers_rewrites_only_a_marker_that_says_something_else(fs: FakeFilesystem) -> None:
    write_markers("box", "aarch64")
    assert write_markers("renamed", "aarch64") == [MARKER]
    with open(MARKER, encoding="utf-8") as f:
        assert f.read() == "container=renamed\narch=aarch64\n"


@pytest.mark.parametrize("marker", [MARKER, TOOLBOX_MARKER])
def test_a_marker_that_is_a_link_into_the_home_is_replaced_not_written_through(
        fs: FakeFilesystem, marker: str) -> None:
    fs.create_file("/home/alice/notes.txt", contents="precious\n")
    fs.create_symlink(marker, "/home/alice/notes.txt")
    write_markers("box", "aarch64")
    assert not os.path.islink(marker)
    with open("/home/alice/notes.txt", encoding="utf-8") as f:
        assert f.read() == "precious\n"
