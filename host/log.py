"""Host logging through structlog, configured once and imported only when needed.

Importing structlog costs about 100 ms on a cold cache, more than a whole
``crossbox run`` on a running container may spend, so the module-level
functions compare the level first and import structlog only for a message
that will be printed.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Any

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
# Toolbx's (logrus's) names for --log-level, and what each means here.
LEVEL_NAMES = {"trace": "debug", "debug": "debug", "info": "info", "warn": "warning", "warning": "warning",
               "error": "error", "fatal": "critical", "panic": "critical"}

# crossbox's level (a LEVEL_NAMES value) as podman's --log-level (for --log-podman).
PODMAN_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error", "critical": "fatal"}

_state: dict[str, Any] = {"level": LEVELS["warning"], "format": "console", "logger": None}


def configure(level: str = "warning", fmt: str = "console") -> None:
    _state["level"] = LEVELS[LEVEL_NAMES.get(level, level)]
    _state["format"] = fmt
    _state["logger"] = None


def json_mode() -> bool:
    return bool(_state["format"] == "json")


def utc_timestamp() -> str:
    """Now, as structlog's ISO 8601 UTC stamp: 2026-12-05T02:30:00.123456Z."""
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_line(level: str, event: str, fields: dict[str, Any]) -> str:
    import json

    return json.dumps({"event": event, **fields, "level": level, "timestamp": utc_timestamp()})


def say(text: str, level: str = "info", **fields: Any) -> None:
    """A line for the user on stderr, whatever the log level: as it is, or one JSON object in
    --log-format json mode (progress, notices, questions, errors: stderr is all JSON then)."""
    line = _json_line(level, text, fields) if json_mode() else text
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def notice(text: str) -> None:
    """A warning to the user, whatever the log level: `crossbox: TEXT`, or its JSON object."""
    say(text if json_mode() else f"crossbox: {text}", "warning")


def enabled(level: str) -> bool:
    return bool(LEVELS[level] >= _state["level"])


def use_colour(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stderr
    from .settings import current as settings

    if settings().no_color:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _logger() -> Any:
    if _state["logger"] is None:
        import structlog

        processors: list[Any] = [structlog.processors.add_log_level]
        if json_mode():
            processors += [structlog.processors.TimeStamper(fmt="iso", utc=True),
                           structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        else:
            processors += [structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
                           structlog.dev.ConsoleRenderer(colors=use_colour())]
        structlog.configure(
            processors=processors,
            wrapper_class=structlog.make_filtering_bound_logger(_state["level"]),
            logger_factory=structlog.PrintLoggerFactory(sys.stderr),
            cache_logger_on_first_use=True,
        )
        _state["logger"] = structlog.get_logger("crossbox")
    return _state["logger"]


def debug(event: str, **kw: Any) -> None:
    if LEVELS["debug"] >= _state["level"]:
        _logger().debug(event, **kw)


def info(event: str, **kw: Any) -> None:
    if LEVELS["info"] >= _state["level"]:
        _logger().info(event, **kw)


def warning(event: str, **kw: Any) -> None:
    if LEVELS["warning"] >= _state["level"]:
        _logger().warning(event, **kw)


def error(event: str, **kw: Any) -> None:
    if LEVELS["error"] >= _state["level"]:
        _logger().error(event, **kw)
