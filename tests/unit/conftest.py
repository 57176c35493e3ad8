"""Fixtures of the unit suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crossbox.host import settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """crossbox reads its environment settings once a process; each test reads its own."""
    settings.reset()
    yield
    settings.reset()


@pytest.fixture(autouse=True)
def signals_as_they_were() -> Iterator[None]:
    """Tests of the agent block signals (it is an init) and of the launcher install handlers:
    each test leaves this process's signal mask and handlers as it found them, since child
    processes of later tests inherit both."""
    import signal

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
