"""crossbox.guest.users: the host user made to exist in busybox-, Debian- and Fedora-like images."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator

import pytest
from crossbox.guest import users
from crossbox.guest.users import (
    FALLBACK_SHELL,
    OVERFLOW_UID,
    choose_shell,
    ensure_root,
    setup_user,
    sudo_present,
    supplementary_groups,
)
from crossbox.shared.contract import User
from pyfakefs.fake_filesystem import FakeFilesystem, set_gid, set_uid

ALICE = User(name="alice", uid=1000, gid=1000, home="/home/alice", shell="/bin/bash")
SUDOERS = "/etc/sudoers.d/crossbox"

DEBIAN_PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
DEBIAN_GROUP = """\
root:x:0:
sudo:x:27:
shadow:x:42:
users:x:100:
nogroup:x:65534:
"""
DEBIAN_SHADOW = """\
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
"""
DEBIAN_GSHADOW = """\
root:*::
sudo:*::
shadow:*::
users:*::
nogroup:*::
"""


@pytest.fixture
def fs_root(fs: FakeFilesystem) -> Iterator[FakeFilesystem]:
    """The agent runs as root in its container: emulate that whoever runs the tests."""
    set_uid(0)
    set_gid(0)
    yield fs


def _file(fs: FakeFilesystem, path: str, contents: str, mode: int = 0o644, gid: int = 0) -> None:
    fs.create_file(path, st_mode=stat.S_IFREG | mode, contents=contents)
    os.chown(path, 0, gid)


def _exe(fs: FakeFilesystem, path: str) -> None:
    fs.create_file(path, st_mode=stat.S_IFREG | 0o755, contents="\x7fELF")


@pytest.fixture
def busybox_etc(fs_root: FakeFilesystem) -> FakeFilesystem:
    """A busybox image: /etc holds no passwd, group or shadow; /bin/sh is busybox."""
    fs_root.create_dir("/etc")
    _exe(fs_root, "/bin/sh")
    return fs_root


@pytest.fixture
def debian_etc(fs_root: FakeFilesystem) -> FakeFilesystem:
    _file(fs_root, "/etc/passwd", DEBIAN_PASSWD)
    _file(fs_root, "/etc/group", DEBIAN_GROUP)
    _file(fs_root, "/etc/shadow", DEBIAN_SHADOW, 0o640, gid=42)
    _file(fs_root, "/etc/gshadow", DEBIAN_GSHADOW, 0o640, gid=42)
    fs_root.create_dir("/etc/sudoers.d")
    os.chmod("/etc/sudoers.d", 0o750)
    fs_root.create_file("/usr/bin/sudo", st_mode=stat.S_IFREG | 0o4755, contents="\x7fELF")
    _exe(fs_root, "/bin/bash")
    _exe(fs_root, "/bin/sh")
    fs_root.create_dir("/home")
    return fs_root


def lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def snapshot(paths: list[str]) -> dict[str, tuple[str, int, int, int]]:
    out = {}
    for path in paths:
        st = os.stat(path)
        with open(path, encoding="utf-8") as f:
            out[path] = (f.read(), st.st_mode, st.st_uid, st.st_gid)
    return out


# --- busybox ----------------------------------------------------------------------------------

def test_busybox_image_gets_passwd_and_group_entries_and_a_home(
    busybox_etc: FakeFilesystem,
) -> None:
    changed = setup_user(ALICE)
    assert changed == ["/etc/passwd", "/etc/group", "/home/alice"]
    # No shadow file: the password field is locked in passwd itself; bash is not in the image.
    assert lines("/etc/passwd") == ["alice:*:1000:1000:alice:/home/alice:/bin/sh"]
    assert lines("/etc/group") == ["alice:x:1000:"]
    assert not os.path.exists("/etc/shadow")
    assert not os.path.exists(SUDOERS)
    st = os.stat("/home/alice")
    assert stat.S_ISDIR(st.st_mode)
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert stat.S_IMODE(os.stat("/etc/passwd").st_mode) == 0o644


def test_busybox_image_set_up_twice_changes_nothing_the_second_time(
    busybox_etc: FakeFilesystem,
) -> None:
    setup_user(ALICE)
    before = snapshot(["/etc/passwd", "/etc/group"])
    assert setup_user(ALICE) == []
    assert snapshot(["/etc/passwd", "/etc/group"]) == before


# --- Debian / Fedora --------------------------------------------------------------------------

def test_debian_image_gets_the_user_in_passwd_group_shadow_and_sudo(
    debian_etc: FakeFilesystem,
) -> None:
    changed = setup_user(ALICE)
    assert changed == ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", SUDOERS,
                       "/home/alice"]
    assert lines("/etc/passwd") == [*DEBIAN_PASSWD.splitlines(),
                                    "alice:x:1000:1000:alice:/home/alice:/bin/bash"]
    group = lines("/etc/group")
    assert "sudo:x:27:alice" in group
    assert group[-1] == "alice:x:1000:"
    assert len(group) == len(DEBIAN_GROUP.splitlines()) + 1
    shadow = lines("/etc/shadow")
    assert shadow[:-1] == DEBIAN_SHADOW.splitlines()
    name, password, changed_day, *rest = shadow[-1].split(":")
    assert (name, password, rest) == ("alice", "!", ["0", "99999", "7", "", "", ""])
    assert abs(int(changed_day) - int(time.time() // 86400)) <= 1
    assert lines("/etc/gshadow")[-1] == "alice:!::"


def test_debian_image_gets_a_passwordless_sudo_drop_in_readable_only_by_root(
    debian_etc: FakeFilesystem,
) -> None:
    setup_user(ALICE)
    st = os.stat(SUDOERS)
    assert stat.S_IMODE(st.st_mode) == 0o440
    assert (st.st_uid, st.st_gid) == (0, 0)
    with open(SUDOERS, encoding="utf-8") as f:
        assert f.read() == "alice ALL=(ALL:ALL) NOPASSWD: ALL\n"


def test_rewritten_files_keep_their_mode_and_owner(debian_etc: FakeFilesystem) -> None:
    setup_user(ALICE)
    st = os.stat("/etc/shadow")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 42)
    st = os.stat("/etc/passwd")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    assert not [n for n in os.listdir("/etc") if n.startswith(".crossbox-")]


def test_fedora_image_adds_the_user_to_wheel(debian_etc: FakeFilesystem) -> None:
    with open("/etc/group", "w", encoding="utf-8") as f:
        f.write("root:x:0:\nwheel:x:10:\nusers:x:100:\n")
    setup_user(ALICE)
    assert lines("/etc/group") == ["root:x:0:", "wheel:x:10:alice", "users:x:100:", "alice:x:1000:"]


def test_user_joins_both_admin_groups_after_existing_members(debian_etc: FakeFilesystem) -> None:
    with open("/etc/group", "w", encoding="utf-8") as f:
        f.write("root:x:0:\nwheel:x:10:bob\nsudo:x:27:bob,carol\n")
    setup_user(ALICE)
    group = lines("/etc/group")
    assert "wheel:x:10:bob,alice" in group
    assert "sudo:x:27:bob,carol,alice" in group
    assert supplementary_groups(ALICE) == [10, 27, 1000]


def test_setup_twice_returns_nothing_and_changes_no_file(debian_etc: FakeFilesystem) -> None:
    setup_user(ALICE)
    paths = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", SUDOERS]
    before = snapshot(paths)
    assert setup_user(ALICE) == []
    assert snapshot(paths) == before


def test_existing_user_keeps_the_password_the_image_set(debian_etc: FakeFilesystem) -> None:
    with open("/etc/passwd", "a", encoding="utf-8") as f:
        f.write("alice:$6$salt$hash:1000:1000:Old Name:/home/old:/bin/sh\n")
    setup_user(ALICE)
    assert lines("/etc/passwd")[-1] == "alice:$6$salt$hash:1000:1000:alice:/home/alice:/bin/bash"
    assert sum(1 for line in lines("/etc/passwd") if line.startswith("alice:")) == 1


def test_image_user_holding_the_same_uid_is_replaced(debian_etc: FakeFilesystem) -> None:
    with open("/etc/passwd", "a", encoding="utf-8") as f:
        f.write("ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n")
    with open("/etc/shadow", "a", encoding="utf-8") as f:
        f.write("ubuntu:!:19000:0:99999:7:::\n")
    with open("/etc/group", "w", encoding="utf-8") as f:
        f.write(DEBIAN_GROUP.replace("sudo:x:27:", "sudo:x:27:ubuntu") + "ubuntu:x:1000:\n")
    setup_user(ALICE)
    passwd = lines("/etc/passwd")
    assert not [line for line in passwd if line.startswith("ubuntu:")]
    assert [line for line in passwd if line.split(":")[2] == "1000"] == [
        "alice:x:1000:1000:alice:/home/alice:/bin/bash"]
    shadow_names = [line.split(":")[0] for line in lines("/etc/shadow")]
    assert "ubuntu" not in shadow_names and "alice" in shadow_names
    # gid 1000 already has a group (the image's "ubuntu"): no second group with that gid.
    assert [g for g in lines("/etc/group") if g.split(":")[2] == "1000"] == ["ubuntu:x:1000:"]
    assert "sudo:x:27:ubuntu,alice" in lines("/etc/group")


def test_group_of_the_users_name_with_another_gid_gets_the_users_gid(
    debian_etc: FakeFilesystem,
) -> None:
    with open("/etc/group", "a", encoding="utf-8") as f:
        f.write("alice:x:1001:\n")
    changed = setup_user(ALICE)
    group = lines("/etc/group")
    assert [g for g in group if g.startswith("alice:")] == ["alice:x:1000:"]
    assert "/etc/gshadow" not in changed  # the group existed: gshadow is left alone


def test_shell_falls_back_to_bin_sh_when_the_host_shell_is_missing(
    debian_etc: FakeFilesystem,
) -> None:
    setup_user(User("alice", 1000, 1000, "/home/alice", "/usr/bin/zsh"))
    assert lines("/etc/passwd")[-1].endswith(":/home/alice:/bin/sh")


def test_shell_falls_back_to_bin_sh_when_the_host_shell_is_not_executable(
    debian_etc: FakeFilesystem,
) -> None:
    debian_etc.create_file("/usr/bin/zsh", st_mode=stat.S_IFREG | 0o644, contents="")
    assert choose_shell("/usr/bin/zsh") == FALLBACK_SHELL
    os.chmod("/usr/bin/zsh", 0o755)
    assert choose_shell("/usr/bin/zsh") == "/usr/bin/zsh"
    assert choose_shell("") == FALLBACK_SHELL


def test_existing_home_is_left_alone(debian_etc: FakeFilesystem) -> None:
    debian_etc.create_dir("/home/alice")
    os.chown("/home/alice", 0, 0)
    changed = setup_user(ALICE)
    assert "/home/alice" not in changed
    assert os.stat("/home/alice").st_uid == 0


def test_sudo_drop_in_is_written_when_only_the_sudo_binary_exists(fs_root: FakeFilesystem) -> None:
    _file(fs_root, "/etc/passwd", DEBIAN_PASSWD)
    _file(fs_root, "/etc/group", DEBIAN_GROUP)
    fs_root.create_file("/usr/bin/sudo", st_mode=stat.S_IFREG | 0o4755)
    assert sudo_present()
    assert SUDOERS in setup_user(ALICE)
    assert stat.S_IMODE(os.stat("/etc/sudoers.d").st_mode) & 0o007 == 0


def test_no_sudo_drop_in_without_sudo(fs_root: FakeFilesystem) -> None:
    _file(fs_root, "/etc/passwd", DEBIAN_PASSWD)
    assert not sudo_present()
    setup_user(ALICE)
    assert not os.path.exists("/etc/sudoers.d")


def test_setup_takes_a_lock_file_like_the_shadow_tools(busybox_etc: FakeFilesystem) -> None:
    setup_user(ALICE)
    assert os.path.exists("/etc/.pwd.lock")


# --- root -------------------------------------------------------------------------------------

def test_setup_of_root_only_ensures_root_exists(busybox_etc: FakeFilesystem) -> None:
    changed = setup_user(User("root", 0, 0, "/root", "/bin/bash"))
    assert changed == ["/etc/passwd", "/etc/group", "/root"]
    assert lines("/etc/passwd") == ["root:x:0:0:root:/root:/bin/sh"]
    assert lines("/etc/group") == ["root:x:0:"]
    assert os.path.isdir("/root")


def test_ensure_root_adds_nothing_when_a_uid_0_line_exists(debian_etc: FakeFilesystem) -> None:
    with open("/etc/passwd", "w", encoding="utf-8") as f:
        f.write("toor:x:0:0:root:/root:/bin/sh\n")
    with open("/etc/group", "w", encoding="utf-8") as f:
        f.write("wheel:x:0:\n")
    debian_etc.create_dir("/root")
    before = snapshot(["/etc/passwd", "/etc/group"])
    assert ensure_root() == []
    assert snapshot(["/etc/passwd", "/etc/group"]) == before


def test_ensure_root_appends_root_when_only_other_users_exist(fs_root: FakeFilesystem) -> None:
    _file(fs_root, "/etc/passwd", "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    _file(fs_root, "/etc/group", "daemon:x:1:\n")
    fs_root.create_dir("/root")
    assert ensure_root() == ["/etc/passwd", "/etc/group"]
    assert lines("/etc/passwd")[-1] == "root:x:0:0:root:/root:/bin/sh"
    assert lines("/etc/group") == ["daemon:x:1:", "root:x:0:"]
    assert ensure_root() == []


# --- files podman wrote that the container cannot read ---------------------------------------

CONTAINER_ROOT = 4242  # stands for root in a user namespace, without power over unmapped files


def _unreadable(fs: FakeFilesystem, path: str, owner: int) -> None:
    fs.create_file(path, st_mode=stat.S_IFREG | 0o600, contents="root:x:0:0:root:/root:/bin/sh\n")
    os.chown(path, owner, owner)


@pytest.fixture
def no_dac_override(fs_root: FakeFilesystem) -> FakeFilesystem:
    """/etc is the container's own; permission checks apply (pyfakefs skips them for uid 0)."""
    fs_root.create_dir("/etc")
    os.chown("/etc", CONTAINER_ROOT, CONTAINER_ROOT)
    fs_root.create_dir("/root")
    return fs_root


def test_read_reclaims_an_unreadable_file_owned_by_the_overflow_uid(
    no_dac_override: FakeFilesystem,
) -> None:
    _unreadable(no_dac_override, "/etc/passwd", OVERFLOW_UID)
    set_uid(CONTAINER_ROOT)
    with pytest.raises(PermissionError):
        open("/etc/passwd", encoding="utf-8")  # noqa: SIM115  (what _read meets)
    assert users._read("/etc/passwd") is None
    assert not os.path.exists("/etc/passwd")


def test_read_refuses_an_unreadable_file_of_another_owner(no_dac_override: FakeFilesystem) -> None:
    _unreadable(no_dac_override, "/etc/passwd", 0)
    set_uid(CONTAINER_ROOT)
    with pytest.raises(PermissionError):
        users._read("/etc/passwd")
    assert os.path.exists("/etc/passwd")


def test_ensure_root_replaces_podmans_unreadable_placeholder_files(
    no_dac_override: FakeFilesystem,
) -> None:
    _unreadable(no_dac_override, "/etc/passwd", OVERFLOW_UID)
    _unreadable(no_dac_override, "/etc/group", OVERFLOW_UID)
    set_uid(CONTAINER_ROOT)
    assert ensure_root() == ["/etc/passwd", "/etc/group"]
    assert lines("/etc/passwd") == ["root:x:0:0:root:/root:/bin/sh"]
    assert lines("/etc/group") == ["root:x:0:"]


# --- supplementary groups ---------------------------------------------------------------------

def test_supplementary_groups_lists_the_primary_gid_and_every_group_naming_the_user(
    fs_root: FakeFilesystem,
) -> None:
    _file(fs_root, "/etc/group",
          "root:x:0:\nwheel:x:10:bob,alice\nsudo:x:27:alice\ndocker:x:999:alicex\n"
          "video:x:44:malice\nbroken:x:notanumber:alice\nshort:alice\n")
    assert supplementary_groups(ALICE) == [10, 27, 1000]


def test_supplementary_groups_without_a_group_file_is_the_primary_gid(
    fs_root: FakeFilesystem,
) -> None:
    fs_root.create_dir("/etc")
    assert supplementary_groups(ALICE) == [1000]


def test_supplementary_groups_after_setup_include_the_admin_group(
    debian_etc: FakeFilesystem,
) -> None:
    setup_user(ALICE)
    assert supplementary_groups(ALICE) == [27, 1000]


# --- another etc directory --------------------------------------------------------------------

def test_setup_user_edits_the_given_etc_directory(fs_root: FakeFilesystem) -> None:
    _file(fs_root, "/srv/image/etc/passwd", DEBIAN_PASSWD)
    _file(fs_root, "/srv/image/etc/group", DEBIAN_GROUP)
    _exe(fs_root, "/bin/bash")
    setup_user(ALICE, etc="/srv/image/etc")
    assert lines("/srv/image/etc/passwd")[-1] == "alice:*:1000:1000:alice:/home/alice:/bin/bash"
    assert "sudo:x:27:alice" in lines("/srv/image/etc/group")
    assert not os.path.exists("/etc/passwd")
    assert supplementary_groups(ALICE, etc="/srv/image/etc") == [27, 1000]


# --- a hostile image --------------------------------------------------------------------------

def test_an_account_file_that_links_out_of_the_image_is_replaced_not_written_through(
        debian_etc: FakeFilesystem) -> None:
    debian_etc.create_file("/home/alice/notes.txt", contents="mine\n")
    os.unlink("/etc/passwd")
    debian_etc.create_symlink("/etc/passwd", "/home/alice/notes.txt")
    setup_user(ALICE)
    assert not os.path.islink("/etc/passwd")
    assert any(line.startswith("alice:") for line in lines("/etc/passwd"))
    with open("/home/alice/notes.txt", encoding="utf-8") as f:
        assert f.read() == "mine\n"


def test_a_sudoers_directory_that_links_elsewhere_is_left_alone(debian_etc: FakeFilesystem) -> None:
    os.rmdir("/etc/sudoers.d")
    debian_etc.create_dir("/home/alice/bin")
    debian_etc.create_symlink("/etc/sudoers.d", "/home/alice/bin")
    changed = setup_user(ALICE)
    assert SUDOERS not in changed
    assert os.listdir("/home/alice/bin") == []
    assert "/etc/passwd" in changed  # the rest of the set-up went on
