"""crossbox.host.checks: the host checks behind `crossbox doctor`, on files written here."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
from crossbox.host import checks
from crossbox.host.checks import FAIL, INFO, OK, Check
from crossbox.shared.arch import parse_arch

X86_64 = parse_arch("x86_64")
AARCH64 = parse_arch("aarch64")
RISCV64 = parse_arch("riscv64")

# /proc/filesystems as a Debian 12 kernel prints it (tab-separated, "nodev" or blank first).
PROC_FILESYSTEMS = (
    "nodev\tsysfs\nnodev\ttmpfs\nnodev\tbdev\nnodev\tproc\nnodev\tcgroup\nnodev\tcgroup2\n"
    "nodev\tdevtmpfs\nnodev\tbinfmt_misc\nnodev\tdebugfs\nnodev\tsecurityfs\nnodev\tpipefs\n"
    "nodev\tdevpts\n\text3\n\text2\n\text4\nnodev\tautofs\nnodev\tmqueue\nnodev\toverlay\n"
)


@pytest.mark.parametrize(("release", "version"), [
    ("6.18.44-fc-v782", (6, 18)),
    ("6.1.0-28-amd64", (6, 1)),
    ("6.7.0", (6, 7)),
    ("5.15.0-1057-azure", (5, 15)),
    ("10.0.1-rc1", (10, 0)),
    ("garbage", (0, 0)),
    ("", (0, 0)),
])
def test_parse_kernel_version(release: str, version: tuple[int, int]) -> None:
    assert checks.parse_kernel_version(release) == version


def test_kernel_older_than_6_7_fails_and_says_6_7() -> None:
    check = checks.check_kernel("6.6.0")
    assert check.status == FAIL
    assert "6.7" in check.message
    assert "Linux 6.6.0" in check.message
    assert "6.7" in check.hint


@pytest.mark.parametrize("release", ["6.7.0", "6.18.44-fc-v782", "7.0.0"])
def test_kernel_6_7_or_newer_is_ok(release: str) -> None:
    assert checks.check_kernel(release).status == OK


def test_kernel_release_seam_pretends_another_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOX_TEST_KERNEL_RELEASE", "5.10.0-test")
    assert checks.kernel_release() == "5.10.0-test"
    assert checks.check_kernel().status == FAIL


def test_kernel_release_without_the_seam_is_unames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSBOX_TEST_KERNEL_RELEASE", raising=False)
    assert checks.kernel_release() == os.uname().release


def test_binfmt_fs_present(tmp_path: Path) -> None:
    path = tmp_path / "filesystems"
    path.write_text(PROC_FILESYSTEMS)
    assert checks.check_binfmt_fs(str(path)).status == OK


def test_binfmt_fs_missing_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "filesystems"
    path.write_text(PROC_FILESYSTEMS.replace("nodev\tbinfmt_misc\n", ""))
    check = checks.check_binfmt_fs(str(path))
    assert check.status == FAIL
    assert "modprobe binfmt_misc" in check.hint


def test_binfmt_fs_unreadable_fails(tmp_path: Path) -> None:
    check = checks.check_binfmt_fs(str(tmp_path / "nonexistent"))
    assert check.status == FAIL
    assert "cannot read" in check.message


def me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def write_ids(etc: Path, subuid: str, subgid: str) -> str:
    etc.mkdir(exist_ok=True)
    (etc / "subuid").write_text(subuid)
    (etc / "subgid").write_text(subgid)
    return str(etc)


def test_rootless_with_ranges_for_the_current_user(tmp_path: Path) -> None:
    line = f"someone:100000:65536\n{me()}:165536:65536\n"
    check = checks.check_subordinate_ids(True, write_ids(tmp_path / "etc", line, line))
    assert check.status == OK
    assert me() in check.message


def test_rootless_ranges_may_be_given_by_uid_and_add_up(tmp_path: Path) -> None:
    line = f"{os.getuid()}:100000:30000\n{me()}:200000:35536\n"
    check = checks.check_subordinate_ids(True, write_ids(tmp_path / "etc", line, line))
    assert check.status == OK


def test_rootless_without_a_line_for_the_current_user_fails(tmp_path: Path) -> None:
    other = "someone-else:100000:65536\n"
    mine = f"{me()}:100000:65536\n"
    check = checks.check_subordinate_ids(True, write_ids(tmp_path / "etc", mine, other))
    assert check.status == FAIL
    assert check.message.startswith(f"{me()} has fewer than 65536 subordinate ids in ")
    assert "subgid" in check.message
    assert "subuid" not in check.message
    assert "usermod --add-subuids" in check.hint


def test_rootless_with_a_too_small_range_fails(tmp_path: Path) -> None:
    line = f"{me()}:100000:1000\n"
    check = checks.check_subordinate_ids(True, write_ids(tmp_path / "etc", line, line))
    assert check.status == FAIL


def test_rootless_without_the_files_fails(tmp_path: Path) -> None:
    check = checks.check_subordinate_ids(True, str(tmp_path))
    assert check.status == FAIL
    assert "subuid and" in check.message


def test_rootful_needs_the_containers_user(tmp_path: Path) -> None:
    line = "containers:2147483647:2147483648\n"
    assert checks.check_subordinate_ids(False, write_ids(tmp_path / "a", line, line)).status == OK
    mine = f"{me()}:100000:65536\n"
    check = checks.check_subordinate_ids(False, write_ids(tmp_path / "b", mine, mine))
    assert check.status == FAIL
    assert check.message.startswith("containers has fewer than 65536")
    assert "containers:2147483647:2147483648" in check.hint


def test_malformed_subid_lines_are_ignored(tmp_path: Path) -> None:
    text = "containers:lots:2147483648\ncontainers:1\n# comment\n"
    check = checks.check_subordinate_ids(False, write_ids(tmp_path / "etc", text, text))
    assert check.status == FAIL


KERNEL_FAIL = Check("kernel", FAIL, "old kernel")
SKOPEO_FAIL = Check("skopeo", FAIL, "skopeo was not found", needed_for=("foreign pulls",))
EMU_AARCH64_FAIL = Check("emulator aarch64", FAIL, "no qemu", needed_for=("aarch64",))
EMU_RISCV_OK = Check("emulator riscv64", OK, "fine", needed_for=("riscv64",))
HOST_BINFMT = Check("host binfmt_misc", INFO, "none")
ALL = [KERNEL_FAIL, SKOPEO_FAIL, EMU_AARCH64_FAIL, EMU_RISCV_OK, HOST_BINFMT]


@pytest.fixture
def x86_64_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "host_arch", lambda: X86_64)


@pytest.mark.usefixtures("x86_64_host")
def test_failing_for_native_only_ignores_skopeo_and_emulators() -> None:
    assert checks.failing(ALL, [X86_64]) == [KERNEL_FAIL]
    assert checks.failing(ALL, []) == [KERNEL_FAIL]


@pytest.mark.usefixtures("x86_64_host")
def test_failing_for_a_foreign_arch_counts_skopeo_and_its_emulator() -> None:
    assert checks.failing(ALL, [AARCH64]) == [KERNEL_FAIL, SKOPEO_FAIL, EMU_AARCH64_FAIL]


@pytest.mark.usefixtures("x86_64_host")
def test_failing_ignores_emulators_of_architectures_not_asked() -> None:
    assert checks.failing(ALL, [RISCV64]) == [KERNEL_FAIL, SKOPEO_FAIL]
    assert checks.failing(ALL, [X86_64, RISCV64]) == [KERNEL_FAIL, SKOPEO_FAIL]


@pytest.mark.usefixtures("x86_64_host")
def test_failing_ignores_passing_and_informational_checks() -> None:
    assert checks.failing([EMU_RISCV_OK, HOST_BINFMT], [RISCV64]) == []


def test_check_as_dict_is_json_ready() -> None:
    assert EMU_AARCH64_FAIL.as_dict() == {
        "name": "emulator aarch64", "status": "fail", "message": "no qemu", "hint": "",
        "needed_for": ["aarch64"],
    }


def test_host_binfmt_entries_are_information_only(tmp_path: Path) -> None:
    assert checks.host_binfmt_entries(str(tmp_path / "absent")).status == INFO
    (tmp_path / "register").write_text("")
    (tmp_path / "status").write_text("enabled\n")
    check = checks.host_binfmt_entries(str(tmp_path))
    assert check.status == INFO
    assert "no binfmt_misc entries" in check.message
