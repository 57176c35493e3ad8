"""crossbox.guest.ready: the alive lock the host's hot path reads, held from ready to stop."""

from __future__ import annotations

import os
from pathlib import Path

from crossbox.guest.ready import Readiness
from crossbox.shared import locks
from crossbox.shared.contract import ALIVE_LOCK, READY_FIFO, READY_OK


def test_the_alive_lock_is_held_from_ready_until_release(tmp_path: Path) -> None:
    alive = str(tmp_path / ALIVE_LOCK)
    readiness = Readiness(str(tmp_path))
    readiness.ready(agent_ms=1.0)
    assert locks.is_held(alive)  # what the host's hot path asks
    readiness.release()
    assert not locks.is_held(alive)
    readiness.release()  # twice is harmless (a stop after a failed start)


def test_ready_reports_one_line_to_the_hosts_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / READY_FIFO
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        readiness = Readiness(str(tmp_path))
        readiness.open()
        readiness.ready(agent_ms=12.5)
        assert os.read(reader, 4096).decode() == f"{READY_OK} agent_ms=12.5\n"
        readiness.release()
    finally:
        os.close(reader)
