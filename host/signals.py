"""SIGINT and SIGTERM: interrupt crossbox cleanly, but never in the middle of a change.

Outside a critical section, both raise Interrupted (exit status 130 or 143)
and the verb's own clean-up runs. Inside `deferred()` (around `podman create`,
`podman start`, `podman rm`, and around clean-ups), both are held until the
step is done, because killing podman half-way can leave a container that is
neither created nor absent, and a second Ctrl-C must not cut a clean-up short.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

from .errors import Exit, Interrupted

_pending: list[int] = []
_depth = [0]


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise Interrupted("interrupted", status=Exit.INTERRUPTED)
    raise Interrupted("terminated", status=Exit.TERMINATED)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _depth[0] > 0:
        _pending.append(signum)
        return
    _raise_for(signum)


def install() -> None:
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done, then act on the first one."""
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
    if _depth[0] == 0 and _pending:
        signum = _pending[0]
        _pending.clear()
        _raise_for(signum)
