"""crossbox.host.state: where a box's state lives, the alive lock and the ready FIFO."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crossbox.host import state
from crossbox.host.errors import GuestFailed, HostNotReady, InvalidInput, NotFound
from crossbox.host.tools.podman import ContainerInfo
from crossbox.shared import contract

NAME = "fedora-toolbox-42-arm64"


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every state directory under tmp_path (state_dir and is_ready look base_dir up there)."""
    root = tmp_path / "containers"
    monkeypatch.setattr(state, "base_dir", lambda: str(root))
    return root


def test_base_dir_rootless_is_under_xdg_runtime_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert state.base_dir() == f"{runtime}/crossbox/containers"


def test_rootless_runtime_base_falls_back_as_podman_does(tmp_path: Path) -> None:
    uid = os.getuid()
    usual = tmp_path / "run-user-uid"
    usual.mkdir(mode=0o700)
    fallback = tmp_path / "crossbox-run"
    assert state.rootless_runtime_base(uid, None, str(usual), str(fallback)) == f"{usual}/crossbox"
    usual.rmdir()  # as after `su`: no /run/user/UID
    assert state.rootless_runtime_base(uid, None, str(usual), str(fallback)) == str(fallback)
    assert (fallback.stat().st_mode & 0o777) == 0o700


def test_rootless_runtime_base_refuses_an_unusable_given_directory(tmp_path: Path) -> None:
    with pytest.raises(HostNotReady) as err:
        state.rootless_runtime_base(os.getuid(), str(tmp_path / "missing"))
    assert "XDG_RUNTIME_DIR=" in err.value.message and err.value.hint


def test_rootless_runtime_base_refuses_a_fallback_owned_by_another(tmp_path: Path) -> None:
    fallback = tmp_path / "theirs"
    fallback.mkdir()
    with pytest.raises(HostNotReady) as err:
        state.rootless_runtime_base(os.getuid() + 1, None, str(tmp_path / "none"), str(fallback))
    assert "belongs to someone else" in err.value.message


def test_base_dir_rootful_is_under_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/0")
    assert state.base_dir() == "/run/crossbox/containers"


def test_state_dir_is_per_container_and_the_container_sees_only_its_box_part(base: Path) -> None:
    assert state.state_dir(NAME) == str(base / NAME)
    assert state.shared_dir(NAME) == str(base / NAME / "box")


def test_not_ready_without_the_lock_file(base: Path) -> None:
    assert not state.is_ready(NAME)
    (base / NAME / "box").mkdir(parents=True)
    assert not state.is_ready(NAME)


def test_not_ready_when_nobody_holds_the_lock(base: Path) -> None:
    path = base / NAME / "box" / contract.ALIVE_LOCK
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert not state.is_ready(NAME)


@pytest.fixture
def alive_lock(base: Path) -> Iterator[Callable[[int], int]]:
    """Take a lock on the alive file as the agent would, on its own open file description."""
    path = base / NAME / "box" / contract.ALIVE_LOCK
    path.parent.mkdir(parents=True)
    path.write_text("")
    fds: list[int] = []

    def take(kind: int) -> int:
        fd = os.open(path, os.O_RDONLY)
        fds.append(fd)
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return fd

    yield take
    for fd in fds:
        os.close(fd)


def test_ready_while_another_holds_a_shared_lock(alive_lock: Callable[[int], int]) -> None:
    fd = alive_lock(fcntl.LOCK_SH)
    assert state.is_ready(NAME)
    fcntl.flock(fd, fcntl.LOCK_UN)
    assert not state.is_ready(NAME)


def test_is_ready_leaves_the_lock_as_it_was(alive_lock: Callable[[int], int]) -> None:
    alive_lock(fcntl.LOCK_SH)
    assert state.is_ready(NAME)
    assert state.is_ready(NAME)
    alive_lock(fcntl.LOCK_SH)  # a second agent-side holder is still possible


def test_ensure_state_dir_creates_it_private(base: Path) -> None:
    path = state.ensure_state_dir(NAME)
    assert path == str(base / NAME / "box")
    assert (os.stat(path).st_mode & 0o777) == 0o700
    assert (os.stat(base / NAME).st_mode & 0o777) == 0o700
    assert state.ensure_state_dir(NAME) == path  # again: no error


def test_new_state_dir_says_whether_it_made_it(base: Path) -> None:
    assert state.new_state_dir(NAME)
    assert os.path.isdir(state.shared_dir(NAME))
    assert not state.new_state_dir(NAME)  # there already: a failed create must leave it


def test_the_recorded_id_is_host_private_and_read_back(base: Path) -> None:
    state.new_state_dir(NAME)
    cid = "a" * 64
    state.record_id(NAME, cid)
    assert state.recorded_id(NAME) == cid
    assert not os.path.exists(os.path.join(state.shared_dir(NAME), "id"))  # the container cannot touch it
    (base / NAME / "id").write_text("not-an-id\n")
    assert state.recorded_id(NAME) is None


def test_ready_id_needs_both_the_alive_lock_and_a_recorded_id(base: Path,
                                                             alive_lock: Callable[[int], int]) -> None:
    alive_lock(fcntl.LOCK_SH)
    assert state.ready_id(NAME) is None
    state.record_id(NAME, "b" * 64)
    assert state.ready_id(NAME) == "b" * 64


def test_ready_id_waits_for_a_start_in_progress(base: Path, alive_lock: Callable[[int], int]) -> None:
    alive_lock(fcntl.LOCK_SH)
    state.record_id(NAME, "b" * 64)
    fd = os.open(base / NAME / "start.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another crossbox, between podman start and its return
        assert state.is_ready(NAME)
        assert state.ready_id(NAME) is None
    finally:
        os.close(fd)
    assert state.ready_id(NAME) == "b" * 64


def test_prune_removes_the_directories_of_containers_that_are_gone(base: Path) -> None:
    for name in ("kept", "gone", "replaced", "unknown-id"):
        state.new_state_dir(name)
    state.record_id("kept", "1" * 64)
    state.record_id("gone", "2" * 64)
    state.record_id("replaced", "3" * 64)
    state.new_state_dir("in-progress")  # no id yet, just made: a create (of another storage, perhaps)
    old = base / "leftover"
    state.new_state_dir("leftover")
    os.utime(old, (0, 0))  # no id, and long ago: a create that never finished
    pruned = state.prune({"kept": "1" * 64, "replaced": "4" * 64, "unknown-id": "5" * 64})
    assert sorted(pruned) == ["gone", "leftover", "replaced"]
    assert sorted(os.listdir(base)) == ["in-progress", "kept", "unknown-id"]


def test_prune_leaves_the_containers_of_another_storage(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `list` under one CONTAINERS_STORAGE_CONF does not see another storage's containers;
    their (stopped) boxes must keep their state (the agent writes there at the next start)."""
    from crossbox.host import settings

    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", "/other/storage.conf")
    settings.reset()
    for name in ("other-a", "other-b"):
        state.new_state_dir(name)
        state.record_id(name, "1" * 64)
    assert (base / "other-a" / state.STORAGE_FILE).read_text() == "/other/storage.conf\n"
    monkeypatch.delenv("CONTAINERS_STORAGE_CONF")
    settings.reset()
    state.new_state_dir("mine")
    state.record_id("mine", "2" * 64)
    assert not (base / "mine" / state.STORAGE_FILE).exists()
    assert state.prune({}) == ["mine"]
    assert sorted(os.listdir(base)) == ["other-a", "other-b"]
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", "/other/storage.conf")
    settings.reset()
    assert state.prune({"other-a": "1" * 64}) == ["other-b"]


def test_remove_state_dir(base: Path) -> None:
    path = Path(state.ensure_state_dir(NAME))
    (path / "start.lock").write_text("")
    state.remove_state_dir(NAME)
    assert not path.exists()
    state.remove_state_dir(NAME)  # again: no error


@pytest.fixture
def waiter(base: Path) -> Iterator[state.ReadyWaiter]:
    w = state.ReadyWaiter(NAME, owner=None)
    yield w
    w.close()


def agent(path: str, payload: bytes | None, delay: float = 0.05) -> threading.Thread:
    """The agent's side: open the FIFO for writing, write (or not), close."""

    def run() -> None:
        time.sleep(delay)
        fd = os.open(path, os.O_WRONLY)
        try:
            if payload:
                os.write(fd, payload)
        finally:
            os.close(fd)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_waiter_makes_a_fifo_in_the_state_dir(waiter: state.ReadyWaiter, base: Path) -> None:
    assert waiter.path == str(base / NAME / "box" / contract.READY_FIFO)
    import stat

    assert stat.S_ISFIFO(os.stat(waiter.path).st_mode)


def test_waiter_reports_ready(waiter: state.ReadyWaiter) -> None:
    thread = agent(waiter.path, b"ready agent_ms=1.0\n")
    report = waiter.wait(10)
    thread.join(5)
    assert report is not None
    assert report.ok
    assert report.message == "agent_ms=1.0"
    assert report.elapsed >= 0


def test_waiter_reports_the_agents_error(waiter: state.ReadyWaiter) -> None:
    thread = agent(waiter.path, b"error boom\n")
    report = waiter.wait(10)
    thread.join(5)
    assert report is not None
    assert not report.ok
    assert report.message == "boom"


def test_waiter_reports_an_agent_that_exits_without_a_word(
        waiter: state.ReadyWaiter) -> None:
    thread = agent(waiter.path, None)
    report = waiter.wait(10)
    thread.join(5)
    assert report is not None
    assert not report.ok
    assert report.message == "the guest agent exited before it reported"


def test_waiter_reads_a_line_written_in_pieces(waiter: state.ReadyWaiter) -> None:
    def run() -> None:
        fd = os.open(waiter.path, os.O_WRONLY)
        os.write(fd, b"rea")
        time.sleep(0.1)
        os.write(fd, b"dy agent_ms=2.5\nignored\n")
        os.close(fd)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    report = waiter.wait(10)
    thread.join(5)
    assert report is not None
    assert report.ok
    assert report.message == "agent_ms=2.5"


def test_waiter_times_out_when_nobody_writes(waiter: state.ReadyWaiter) -> None:
    start = time.monotonic()
    assert waiter.wait(0.3) is None
    assert time.monotonic() - start >= 0.25


def test_waiter_close_removes_the_fifo(base: Path) -> None:
    w = state.ReadyWaiter(NAME, owner=None)
    w.close()
    assert not os.path.exists(w.path)
    w.close()  # again: no error


def test_waiter_reports_an_agent_that_died_without_opening_the_fifo(waiter: state.ReadyWaiter) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"0\n")  # what `podman wait` prints when the container has stopped
    start = time.monotonic()
    report = waiter.wait(10, read_end)
    os.close(read_end)
    os.close(write_end)
    assert report is not None and not report.ok
    assert time.monotonic() - start < 2


def test_start_lock_lets_one_starter_in(base: Path) -> None:
    state.new_state_dir(NAME)
    with state.start_lock(NAME, timeout=5):
        with pytest.raises(GuestFailed) as err, state.start_lock(NAME, timeout=0.1):
            pass
        assert NAME in err.value.message
    with state.start_lock(NAME, timeout=0.1):
        pass  # released: free again


@pytest.mark.parametrize(("value", "expected"), [(None, 30.0), ("", 30.0), ("5", 5.0), ("0.5", 0.5)])
def test_ready_timeout(monkeypatch: pytest.MonkeyPatch, value: str | None,
                       expected: float) -> None:
    if value is None:
        monkeypatch.delenv("CROSSBOX_READY_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("CROSSBOX_READY_TIMEOUT", value)
    assert state.ready_timeout() == expected


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "-1", "0"])
def test_a_bad_ready_timeout_is_invalid_input_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CROSSBOX_READY_TIMEOUT", value)
    with pytest.raises(InvalidInput) as err:
        state.ready_timeout()
    assert f"CROSSBOX_READY_TIMEOUT={value!r}" in err.value.message


# -- a start checked from the recorded inspection ----------------------------------------------

BOX_ID = "a" * 64


def box_info(state_name: str = "exited", box_id: str = BOX_ID, mounts: tuple[str, ...] = ()) -> ContainerInfo:
    return ContainerInfo(
        id=box_id, name=NAME, image="img", state=state_name, created="now",
        labels={contract.LABEL_CONTAINER: "true", contract.LABEL_CONTRACT: contract.CONTRACT_VERSION},
        uid_map=("0:100000:65536",), gid_map=("0:100000:65536",), command=("/run/crossbox/ld.so", "x"),
        mounts=mounts, mount_pairs=tuple((m, "/run/crossbox/" + str(i)) for i, m in enumerate(mounts)),
    )


def test_the_recorded_configuration_reads_back_for_its_id_only(base: Path) -> None:
    state.ensure_state_dir(NAME)
    info = box_info(mounts=("/usr/bin/qemu-aarch64-static",))
    state.record_inspection(NAME, info)
    path = Path(state.state_dir(NAME)) / state.INSPECTED_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    back = state.recorded_inspection(NAME, BOX_ID)
    assert back is not None
    assert back._replace(state="exited", created="now") == info._replace(labels=back.labels)
    assert dict(back.labels) == dict(info.labels)
    assert state.recorded_inspection(NAME, "b" * 64) is None  # another container by that name
    for text in ("", "{", "[]", '{"id": 1}', path.read_text().replace('"mounts": [', '"mounts": [7, ')):
        path.write_text(text)
        assert state.recorded_inspection(NAME, BOX_ID) is None, text


class FakePodman:
    """podman start as the agent of the box answers it: the ready line into the FIFO."""

    def __init__(self, base: Path, inspected: ContainerInfo | None, starts: bool = True) -> None:
        self.base, self.inspected, self.starts = base, inspected, starts
        self.calls: list[tuple[str, str | None]] = []

    def start(self, name: str, only_id: str | None = None) -> bool:
        self.calls.append(("start", only_id))
        if only_id is not None and not self.starts:
            return False
        fd = os.open(os.path.join(state.shared_dir(name), contract.READY_FIFO), os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, f"{contract.READY_OK} agent_ms=1.0\n".encode())
        os.close(fd)
        return True

    def inspect_container(self, name: str) -> ContainerInfo | None:
        self.calls.append(("inspect", None))
        return self.inspected


@pytest.fixture
def fake_podman(base: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakePodman]:
    from crossbox.host.tools import podman

    def make(inspected: ContainerInfo | None, starts: bool = True) -> FakePodman:
        fake = FakePodman(base, inspected, starts)
        monkeypatch.setattr(podman, "start", fake.start)
        monkeypatch.setattr(podman, "inspect_container", fake.inspect_container)
        return fake

    monkeypatch.setattr(state, "rootless", lambda: True)
    return make


def test_a_box_started_here_before_starts_without_an_inspection(fake_podman: Callable[..., FakePodman]) -> None:
    fake = fake_podman(box_info())
    state.ensure_state_dir(NAME)
    state.record_id(NAME, BOX_ID)
    assert state.ensure_ready(NAME, timeout=5) == BOX_ID  # the first start: inspected, then recorded
    assert fake.calls == [("inspect", None), ("start", None)]
    fake.calls.clear()
    assert state.ensure_ready(NAME, timeout=5) == BOX_ID
    assert fake.calls == [("start", BOX_ID)]  # podman checks that NAME is still that box, and stopped


def test_when_podman_starts_nothing_the_inspection_decides(fake_podman: Callable[..., FakePodman]) -> None:
    """NAME is another container now (or running): podman's filters started nothing."""
    state.ensure_state_dir(NAME)
    state.record_id(NAME, BOX_ID)
    state.record_inspection(NAME, box_info())
    fake = fake_podman(None, starts=False)  # the inspection: no container NAME any more
    with pytest.raises(NotFound):
        state.ensure_ready(NAME, timeout=5)
    assert fake.calls == [("start", BOX_ID), ("inspect", None)]
    assert not os.path.exists(os.path.join(state.shared_dir(NAME), contract.READY_FIFO))  # the waiter's, gone


def test_a_recorded_configuration_that_fails_a_check_is_never_started(
        fake_podman: Callable[..., FakePodman], tmp_path: Path) -> None:
    """The host path the box needs is gone: nothing is started, and what holds NAME now (here
    the same box, inspected) is what the error is about."""
    gone = str(tmp_path / "python3.11-that-was-upgraded")
    state.ensure_state_dir(NAME)
    state.record_id(NAME, BOX_ID)
    state.record_inspection(NAME, box_info(mounts=(gone,)))
    fake = fake_podman(box_info(mounts=(gone,)))
    with pytest.raises(GuestFailed, match="no longer exists"):
        state.ensure_ready(NAME, timeout=5)
    assert fake.calls == [("inspect", None)]


def test_a_recorded_configuration_that_fails_a_check_leaves_the_question_to_the_inspection(
        fake_podman: Callable[..., FakePodman], tmp_path: Path) -> None:
    """Another box holds NAME now: the stale record's missing path is not what is said."""
    state.ensure_state_dir(NAME)
    state.record_id(NAME, BOX_ID)
    state.record_inspection(NAME, box_info(mounts=(str(tmp_path / "gone"),)))
    fake = fake_podman(None)
    with pytest.raises(NotFound):
        state.ensure_ready(NAME, timeout=5)
    assert fake.calls == [("inspect", None)]
