"""crossbox.guest.main and guest.safety's container check: exit codes and one-line reasons."""

from __future__ import annotations

import functools

import pytest
from crossbox.guest import hostfiles, life, main, register, users  # noqa: F401  (loaded before pyfakefs)
from crossbox.guest.main import EXIT_BUG, EXIT_CONTRACT, EXIT_SETUP
from crossbox.guest.safety import GuestError, check_in_container, in_container
from crossbox.shared.contract import (
    CONTRACT_VERSION,
    MODE_INIT,
    MODE_ONESHOT,
    READY_FIFO,
    STATE_DIR,
    GuestSpec,
    User,
)
from pyfakefs.fake_filesystem import FakeFilesystem

OUTSIDE = "crossbox-guest is a container entrypoint and refuses to run outside a container"
ALICE = User(name="alice", uid=1000, gid=1000, home="/home/alice", shell="/bin/bash")


def oneshot(**changes: object) -> GuestSpec:
    spec = GuestSpec(mode=MODE_ONESHOT, container="crossbox-run-1234", arch="aarch64",
                     emulator="/run/crossbox/bin/qemu-aarch64-static", user=ALICE,
                     command=("true",))
    return spec.replace(**changes)


@pytest.fixture
def outside(fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch) -> FakeFilesystem:
    """No /run/.containerenv and no `container` variable: a plain host."""
    monkeypatch.delenv("container", raising=False)
    return fs


@pytest.fixture
def inside(fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch) -> FakeFilesystem:
    monkeypatch.delenv("container", raising=False)
    fs.create_file("/run/.containerenv", contents="engine=\"podman-4.3.1\"\n")
    return fs


# --- guest.safety: in a container? ------------------------------------------------------------

def test_check_in_container_refuses_outside_a_container_in_one_sentence(
    outside: FakeFilesystem,
) -> None:
    with pytest.raises(GuestError) as info:
        check_in_container()
    assert str(info.value) == OUTSIDE
    assert not in_container()


def test_containerenv_file_means_inside(inside: FakeFilesystem) -> None:
    assert in_container()
    check_in_container()


def test_container_variable_means_inside(
    outside: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("container", "podman")
    assert in_container()
    check_in_container()


def test_in_container_reads_the_given_environment_and_marker(outside: FakeFilesystem) -> None:
    assert in_container(environ={"container": "oci"})
    assert not in_container(environ={"container": ""})
    assert not in_container(environ={})
    outside.create_file("/tmp/marker")
    assert in_container("/tmp/marker", environ={})


# --- main: arguments --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ([], "the first argument must be init or oneshot"),
        (["serve"], "the first argument must be init or oneshot"),
        ([MODE_INIT, "--bogus", "1"], "unexpected agent argument '--bogus'"),
        ([MODE_INIT, "--contract", CONTRACT_VERSION],
         "agent arguments lack --container, --arch, --user"),
        (oneshot(command=()).to_argv(), "one-shot mode needs a command after --"),
        (oneshot(contract="999").to_argv(), "recreate the container"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_on_stderr(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(argv) == EXIT_CONTRACT == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1
    assert err.startswith("crossbox-guest: ")
    assert reason in err


# --- main: set-up refusals --------------------------------------------------------------------

def test_oneshot_outside_a_container_exits_1_with_the_reason(
    outside: FakeFilesystem, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(oneshot().to_argv()) == EXIT_SETUP == 1
    out, err = capsys.readouterr()
    assert out == ""
    reason_lines = [line for line in err.splitlines() if line.startswith("crossbox-guest:")]
    assert reason_lines == [f"crossbox-guest: {OUTSIDE}"]
    assert err.splitlines()[-1] == f"crossbox-guest: {OUTSIDE}"


def test_oneshot_outside_a_container_touches_nothing(
    outside: FakeFilesystem, capsys: pytest.CaptureFixture[str]
) -> None:
    outside.create_dir("/etc")
    main.main(oneshot().to_argv())
    assert outside.listdir("/etc") == []
    assert not outside.exists("/run/.crossboxenv")
    capsys.readouterr()


def test_unknown_architecture_inside_a_container_exits_1_naming_it(
    inside: FakeFilesystem, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(oneshot(arch="sparc64").to_argv()) == EXIT_SETUP
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("crossbox-guest: 'sparc64' is not a supported architecture; use one of:")


def test_foreign_image_without_an_emulator_exits_1_asking_to_recreate(
    inside: FakeFilesystem, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = "s390x" if main.host_arch().name != "s390x" else "aarch64"
    assert main.main(oneshot(arch=foreign, emulator=None).to_argv()) == EXIT_SETUP
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (f"crossbox-guest: no emulator was given for the {foreign} image; "
                    "recreate the container")


def test_foreign_image_in_the_hosts_user_namespace_exits_1_before_mounting(
    inside: FakeFilesystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inside.create_file("/proc/self/uid_map", contents="         0          0 4294967295\n")
    mounts: list[tuple[str, ...]] = []
    # Never the real mount(2): the test may run as root on the host.
    monkeypatch.setattr(register, "mount_private_binfmt", functools.partial(
        register.mount_private_binfmt, mount=lambda *a: mounts.append(a)))
    foreign = "s390x" if main.host_arch().name != "s390x" else "aarch64"
    assert main.main(oneshot(arch=foreign).to_argv()) == EXIT_SETUP
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("crossbox-guest: refusing to mount binfmt_misc")
    assert "host's user namespace" in last
    assert mounts == []


def test_unexpected_exception_exits_70_as_an_internal_error(
    inside: FakeFilesystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(spec: GuestSpec) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(main, "setup", broken)
    assert main.main(oneshot().to_argv()) == EXIT_BUG == 70
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == "crossbox-guest: internal error in the guest agent: KeyError('boom')"


def test_init_mode_reports_the_failure_to_the_readiness_fifo(
    outside: FakeFilesystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A regular file stands in for the FIFO the host reads; blocking signals would hit pytest.
    monkeypatch.setattr(life, "block_init_signals", lambda: None)
    outside.create_file(f"{STATE_DIR}/{READY_FIFO}", contents="")
    argv = oneshot(mode=MODE_INIT, command=()).to_argv()
    assert main.main(argv) == EXIT_SETUP
    with open(f"{STATE_DIR}/{READY_FIFO}", encoding="utf-8") as f:
        assert f.read() == f"error {OUTSIDE}\n"
    capsys.readouterr()
