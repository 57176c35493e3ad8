"""Guest logging: key=value lines on stderr, shaped like structlog's console output.

The agent runs under ``python -I -S``, where the host's site-packages (and so
structlog) are not importable; importing structlog would also cost more than
the agent's whole start-up. This stdlib logger prints the same shape, so the
host launcher's console output and ``podman logs`` of a container read alike.
"""

from __future__ import annotations

import sys
import time

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}

_threshold = LEVELS["warning"]


def configure(level: str) -> None:
    global _threshold
    _threshold = LEVELS.get(level.lower(), LEVELS["warning"])


def enabled(level: str) -> bool:
    return LEVELS[level] >= _threshold


def _emit(level: str, event: str, fields: dict[str, object]) -> None:
    if LEVELS[level] < _threshold:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    kv = " ".join(f"{k}={v}" for k, v in fields.items())
    line = f"{stamp} [{level:<9}] {event:<30} {kv}".rstrip()
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except OSError:
        pass


def debug(event: str, **fields: object) -> None:
    _emit("debug", event, fields)


def info(event: str, **fields: object) -> None:
    _emit("info", event, fields)


def warning(event: str, **fields: object) -> None:
    _emit("warning", event, fields)


def error(event: str, **fields: object) -> None:
    _emit("error", event, fields)
