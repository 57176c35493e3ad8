"""Progress on a terminal (a spinner), plain lines otherwise; always on stderr."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

FRAMES = "|/-\\"


def on_terminal() -> bool:
    """stderr is a terminal for people: not in --log-format json mode, where it is data too."""
    from .log import json_mode

    if json_mode():
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def say(text: str) -> None:
    from .log import say as log_say

    log_say(text)


class Spinner:
    """A spinner while a slow step runs; nothing at all when not on a terminal."""

    def __init__(self, text: str, delay: float = 0.3) -> None:
        self.text = text
        self.delay = delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _spin(self) -> None:
        if self._stop.wait(self.delay):
            return
        i = 0
        while not self._stop.is_set():
            sys.stderr.write(f"\r{FRAMES[i % len(FRAMES)]} {self.text}")
            sys.stderr.flush()
            i += 1
            self._stop.wait(0.1)
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    def __enter__(self) -> Spinner:
        if on_terminal():
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
