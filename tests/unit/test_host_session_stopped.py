"""A box that looked ready but stopped before the exec: podman refuses it (nothing ran), and
the session starts the box and runs the command then, instead of printing podman's refusal."""

from __future__ import annotations

import pytest
from crossbox.host.commands import run
from crossbox.host.tools import runner

REFUSAL = b"Error: can only create exec sessions on running containers: container state improper\n"


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[list[bytes]]:
    """Each podman exec: the stderr lines the filter kept (None: held back), then its status."""
    seen: list[list[bytes]] = []
    statuses = iter([255, 0])

    def fake_run_session(args, on_signal, *, own_group, stderr_filter):  # type: ignore[no-untyped-def]
        status = next(statuses)
        seen.append([b"held" if stderr_filter(REFUSAL) else REFUSAL] if status == 255 else [])
        return status

    monkeypatch.setattr(runner, "run_session", fake_run_session)
    monkeypatch.setattr(run, "_session_files", lambda name: ({}, None))
    monkeypatch.setattr(run, "_workdir", lambda identity, name, warn=True: "/")
    return seen


def test_the_hot_path_gives_way_when_podman_says_the_box_is_not_running(execs: list[list[bytes]]) -> None:
    with pytest.raises(run.StoppedMeanwhile):
        run.session("box", "id", ["true"], retry_if_stopped=True)
    assert execs == [[b"held"]]  # podman's refusal not shown: the command is run again after the start


def test_without_a_retry_podmans_refusal_is_shown_as_it_was(execs: list[list[bytes]]) -> None:
    assert run.session("box", "id", ["true"]) == 255
    assert execs == [[REFUSAL]]


def test_a_command_that_itself_exits_255_is_not_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "run_session", lambda args, on_signal, *, own_group, stderr_filter: 255)
    monkeypatch.setattr(run, "_session_files", lambda name: ({}, None))
    monkeypatch.setattr(run, "_workdir", lambda identity, name, warn=True: "/")
    assert run.session("box", "id", ["ssh", "nowhere"], retry_if_stopped=True) == 255


def test_enter_or_run_starts_the_box_and_runs_the_command_once_more(monkeypatch: pytest.MonkeyPatch,
                                                                     execs: list[list[bytes]]) -> None:
    from crossbox.host import state

    monkeypatch.setattr(state, "ready_id", lambda name: "id")
    started = []
    monkeypatch.setattr(state, "ensure_ready", lambda name: started.append(name) or "id")
    req = run.SessionRequest(container="box", command=("true",))
    assert run.enter_or_run(req) == 0
    assert started == ["box"] and len(execs) == 2
