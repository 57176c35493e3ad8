"""crossbox.guest.register (and the user-namespace refusal of guest.safety) on a fake filesystem."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable

import pytest
from crossbox.guest import register
from crossbox.guest.register import (
    mount_private_binfmt,
    prove_emulation,
    register_emulator,
)
from crossbox.guest.safety import GuestError, check_own_user_namespace
from crossbox.shared import binfmt
from crossbox.shared.arch import parse_arch
from pyfakefs.fake_filesystem import FakeFilesystem

ROOT = binfmt.BINFMT_ROOT
UID_MAP = "/proc/self/uid_map"
INITIAL_UID_MAP = "         0          0 4294967295\n"
AUTO_UID_MAP = "         0     100000      65536\n"
QEMU = "/run/crossbox/bin/qemu-aarch64-static"
AARCH64 = parse_arch("aarch64")
KERNEL_ENTRY = f"""\
enabled
interpreter {QEMU}
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


class RecordingMount:
    def __init__(self, error: OSError | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.error = error

    def __call__(self, source: str, target: str, fstype: str) -> None:
        self.calls.append((source, target, fstype))
        if self.error is not None:
            raise self.error


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture
def own_userns(fs: FakeFilesystem) -> FakeFilesystem:
    fs.create_file(UID_MAP, contents=AUTO_UID_MAP)
    fs.create_dir(ROOT)
    return fs


@pytest.fixture
def host_userns(fs: FakeFilesystem) -> FakeFilesystem:
    fs.create_file(UID_MAP, contents=INITIAL_UID_MAP)
    fs.create_dir(ROOT)
    return fs


@pytest.fixture
def mounted(own_userns: FakeFilesystem) -> FakeFilesystem:
    """A freshly mounted private binfmt_misc, and the emulator the host bind-mounted."""
    own_userns.create_file(f"{ROOT}/register", contents="")
    own_userns.create_file(f"{ROOT}/status", contents="enabled\n")
    own_userns.create_file(QEMU, contents="\x7fELF")
    return own_userns


# --- check_own_user_namespace -----------------------------------------------------------------

def test_check_own_user_namespace_refuses_the_initial_map(host_userns: FakeFilesystem) -> None:
    with pytest.raises(GuestError, match="shares the host's user namespace"):
        check_own_user_namespace()


def test_check_own_user_namespace_accepts_a_mapped_namespace(own_userns: FakeFilesystem) -> None:
    check_own_user_namespace()
    with open(UID_MAP, "w", encoding="ascii") as f:
        f.write("0 1000 1\n1 100000 65536\n")
    check_own_user_namespace()
    assert _read(UID_MAP).startswith("0 1000 1")


def test_check_own_user_namespace_refuses_when_the_map_cannot_be_read(fs: FakeFilesystem) -> None:
    with pytest.raises(GuestError, match="cannot read /proc/self/uid_map"):
        check_own_user_namespace()


# --- mount_private_binfmt ---------------------------------------------------------------------

def test_mount_refuses_in_the_hosts_user_namespace_without_mounting(
    host_userns: FakeFilesystem,
) -> None:
    mount = RecordingMount()
    with pytest.raises(GuestError) as info:
        mount_private_binfmt(mount=mount)
    assert mount.calls == []
    message = str(info.value)
    assert "host's user namespace" in message
    assert "\n" not in message
    assert message.startswith("refusing to mount binfmt_misc:")


def test_mount_in_an_own_user_namespace_mounts_binfmt_misc_at_the_root(
    own_userns: FakeFilesystem,
) -> None:
    mount = RecordingMount()
    mount_private_binfmt(mount=mount)
    assert mount.calls == [("binfmt_misc", ROOT, "binfmt_misc")]
    mount_private_binfmt("/elsewhere", mount=mount)
    assert mount.calls[-1] == ("binfmt_misc", "/elsewhere", "binfmt_misc")


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENODEV, errno.EINVAL, errno.EACCES])
def test_refused_mount_names_the_kernel_requirement_and_this_kernel(
    own_userns: FakeFilesystem, code: int
) -> None:
    mount = RecordingMount(OSError(code, os.strerror(code), ROOT))
    with pytest.raises(GuestError) as info:
        mount_private_binfmt(mount=mount)
    message = str(info.value)
    assert "Linux >= 6.7" in message
    assert os.uname().release in message
    assert errno.errorcode[code] in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_other_mount_failures_name_the_mount_point(own_userns: FakeFilesystem) -> None:
    mount = RecordingMount(OSError(errno.EBUSY, os.strerror(errno.EBUSY), ROOT))
    with pytest.raises(GuestError) as info:
        mount_private_binfmt(mount=mount)
    assert str(info.value) == f"mounting binfmt_misc at {ROOT} failed: {os.strerror(errno.EBUSY)}"


# --- register_emulator ------------------------------------------------------------------------

def test_register_emulator_accepts_an_identical_entry_and_returns_it(
    mounted: FakeFilesystem,
) -> None:
    mounted.create_file(f"{ROOT}/qemu-aarch64", contents=KERNEL_ENTRY)
    entry = register_emulator(AARCH64, QEMU)
    assert entry.flags == "POCF"
    assert entry.enabled
    assert entry.interpreter == QEMU
    assert entry == binfmt.registration_for(AARCH64, QEMU, "FPC").expected_entry()
    assert _read(f"{ROOT}/register") == ""


def test_register_emulator_registers_with_flags_fpc_through_a_fake_kernel(
    mounted: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []

    def kernel_write(fd: int, data: bytes) -> int:
        line = data.decode()
        written.append(line)
        reg = binfmt.parse_registration_line(line)
        with open(f"{ROOT}/{reg.name}", "w", encoding="utf-8") as f:
            f.write(binfmt.render_entry(reg.expected_entry()))
        return len(data)

    monkeypatch.setattr(binfmt.os, "write", kernel_write)
    entry = register_emulator(AARCH64, QEMU)
    assert written == [binfmt.registration_for(AARCH64, QEMU, "FPC").line()]
    assert written[0].endswith(f":{QEMU}:FPC")
    assert entry.flags == "POCF"
    assert _read(f"{ROOT}/qemu-aarch64") == KERNEL_ENTRY


def test_register_emulator_raises_when_the_entry_reads_back_missing(
    mounted: FakeFilesystem,
) -> None:
    # A fake filesystem is no kernel: the written line creates no entry.
    with pytest.raises(GuestError, match="reads back wrong") as info:
        register_emulator(AARCH64, QEMU)
    assert "(missing)" in str(info.value)
    assert "expected flags POCF" in str(info.value)
    assert _read(f"{ROOT}/register") == binfmt.registration_for(AARCH64, QEMU, "FPC").line()


def test_register_emulator_turns_a_conflicting_entry_into_a_guest_error(
    mounted: FakeFilesystem,
) -> None:
    mounted.create_file(f"{ROOT}/qemu-aarch64",
                        contents=KERNEL_ENTRY.replace(QEMU, "/usr/bin/qemu-aarch64-static"))
    with pytest.raises(GuestError, match="already exists with interpreter /usr/bin/qemu-aarch64"):
        register_emulator(AARCH64, QEMU)


def test_register_emulator_raises_when_the_emulator_is_missing(own_userns: FakeFilesystem) -> None:
    own_userns.create_file(f"{ROOT}/register", contents="")
    with pytest.raises(GuestError, match=f"the emulator {QEMU} is missing inside the container"):
        register_emulator(AARCH64, QEMU)
    assert _read(f"{ROOT}/register") == ""


def test_register_emulator_refuses_in_the_hosts_user_namespace(host_userns: FakeFilesystem) -> None:
    host_userns.create_file(f"{ROOT}/register", contents="")
    host_userns.create_file(QEMU, contents="\x7fELF")
    with pytest.raises(GuestError, match="initial user namespace"):
        register_emulator(AARCH64, QEMU)
    assert _read(f"{ROOT}/register") == ""


# --- prove_emulation --------------------------------------------------------------------------

AARCH64_ELF = bytes.fromhex(
    "7f454c460201010300000000000000000200b700010000008005400000000000"
    "400000000000000068261c00000000000000000040003800060040001a001900"
)
X86_64_ELF = bytes.fromhex(
    "7f454c4602010103000000000000000002003e0001000000f0eb400000000000"
    "400000000000000070381e000000000000000000400038000a0040001b001a00"
)


def _fake_run(
    returncode: int, stderr: bytes = b"", ran: list[list[str]] | None = None
) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        if ran is not None:
            ran.append(list(argv))
        return subprocess.CompletedProcess(argv, returncode, b"", stderr)

    return run


def test_prove_emulation_runs_the_first_probe_of_the_images_architecture(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.create_file("/usr/bin/true", contents=X86_64_ELF)  # not the image's: skipped
    fs.create_file("/bin/true", contents=AARCH64_ELF)
    ran: list[list[str]] = []
    monkeypatch.setattr(register.subprocess, "run", _fake_run(0, ran=ran))
    assert prove_emulation(AARCH64) == "/bin/true"
    assert ran == [["/bin/true"]]


def test_prove_emulation_reports_a_failing_probe_with_its_last_error_line(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.create_file("/usr/bin/true", contents=AARCH64_ELF)
    monkeypatch.setattr(register.subprocess, "run",
                        _fake_run(1, b"qemu: warning\nqemu: uncaught target signal 11\n"))
    with pytest.raises(GuestError) as info:
        prove_emulation(AARCH64)
    assert str(info.value) == ("the image's /usr/bin/true exited with 1 under emulation: "
                               "qemu: uncaught target signal 11")


def test_prove_emulation_without_a_probe_of_that_architecture_runs_nothing(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.create_file("/bin/sh", contents=X86_64_ELF)
    ran: list[list[str]] = []
    monkeypatch.setattr(register.subprocess, "run", _fake_run(0, ran=ran))
    assert prove_emulation(AARCH64) == ""
    assert ran == []


def test_prove_emulation_turns_an_exec_failure_into_a_guest_error(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs.create_file("/usr/bin/true", contents=AARCH64_ELF)

    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        raise OSError(errno.ENOEXEC, os.strerror(errno.ENOEXEC))

    monkeypatch.setattr(register.subprocess, "run", run)
    with pytest.raises(GuestError, match="the image's /usr/bin/true failed after registration"):
        prove_emulation(AARCH64)
