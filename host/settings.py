"""The environment settings crossbox reads, each declared once, read once, with one rule
for bad values.

Each ``Setting`` names its variable, how its text is parsed, its default and its
help (crossbox(1) lists them from this table). An empty variable counts as
unset. A value that does not parse is invalid input (exit 3) with one sentence
that names the variable and what it takes; never a traceback, never a silent
default.

Light to import (the hot path reads ``runtime_dir`` from here).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


class BadValue(ValueError):
    """A setting's text that does not parse; the message says what it takes."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue("takes a number of seconds, such as 30") from None
    if not 0 < value < float("inf"):  # NaN fails too (math, a shared library to load, is not needed)
        raise BadValue("takes a finite number of seconds above 0, such as 30")
    return value


def _flag(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "yes", "true", "on"):
        return True
    if low in ("0", "no", "false", "off"):
        return False
    raise BadValue("takes 1 or 0 (yes or no)")


def _absolute_path(text: str) -> str:
    if not text.startswith("/"):
        raise BadValue("takes an absolute path")
    if "\n" in text or "\0" in text:
        raise BadValue("takes a path without newlines")
    return text


def _text(text: str) -> str:
    return text


class Setting:
    __slots__ = ("attr", "default", "env", "help", "hidden", "parse")

    def __init__(self, env: str, attr: str, parse: Callable[[str], object], default: object,
                 help: str, hidden: bool = False) -> None:
        self.env = env
        self.attr = attr
        self.parse = parse
        self.default = default
        self.help = help
        self.hidden = hidden  # test seams: read, but not offered to users


SETTINGS: tuple[Setting, ...] = (
    Setting("CROSSBOX_READY_TIMEOUT", "ready_timeout", _seconds, 30.0,
            "seconds to wait for a container's agent to report ready (default 30)"),
    Setting("CROSSBOX_REGISTRY_TIMEOUT", "registry_timeout", _seconds, None,
            "seconds a whole registry operation may take, the download included (skopeo "
            "--command-timeout; default: 60 for inspecting an image, no limit for the download)"),
    Setting("CROSSBOX_GUEST_PYTHON", "guest_python", _absolute_path, None,
            "the host Python (>= 3.11, dynamically linked, under its prefix) that runs the guest "
            "agent (default: the one running crossbox)"),
    Setting("CROSSBOX_NATIVE_TOOLS", "native_tools", _flag, True,
            "0 (or no): a session of a box made with --native-tools runs every tool emulated"),
    Setting("CROSSBOX_NO_CACHE", "no_cache", _flag, False,
            "1 (or yes): do not use the cache of host probes in $XDG_CACHE_HOME/crossbox"),
    Setting("CROSSBOX_TEST_KERNEL_RELEASE", "test_kernel_release", _text, None,
            "test seam: pretend to run on this kernel release", hidden=True),
    Setting("CONTAINERS_REGISTRIES_CONF", "registries_conf", _absolute_path, None,
            "the containers-registries.conf(5) file for podman, also handed to skopeo (--registries-conf)"),
    Setting("CONTAINERS_STORAGE_CONF", "storage_conf", _text, None,
            "podman's storage.conf(5) file; crossbox keeps the state of each storage's containers "
            "apart (passed into boxes, as Toolbx does)"),
    Setting("XDG_RUNTIME_DIR", "runtime_dir", _absolute_path, None,
            "where a rootless crossbox keeps its per-container state "
            "(default /run/user/UID, else /tmp/crossbox-run-UID)"),
    Setting("XDG_CACHE_HOME", "cache_home", _absolute_path, None,
            "where the probe cache lives (default ~/.cache)"),
    Setting("XDG_DATA_HOME", "data_home", _absolute_path, None,
            "where a rootless crossbox keeps the copy of its agent that containers mount "
            "(default ~/.local/share; rootful: /var/lib/crossbox)"),
    Setting("XDG_CONFIG_HOME", "config_home", _absolute_path, None,
            "where the user's crossbox.conf lives, in containers/ (default ~/.config)"),
    Setting("NO_COLOR", "no_color", lambda text: True, False,
            "set (to anything): no colour in crossbox's output"),
)


class Settings:
    """The parsed values, as attributes named by ``Setting.attr``."""

    ready_timeout: float
    registry_timeout: float | None
    guest_python: str | None
    no_cache: bool
    native_tools: bool
    test_kernel_release: str | None
    registries_conf: str | None
    storage_conf: str | None
    runtime_dir: str | None
    cache_home: str | None
    data_home: str | None
    config_home: str | None
    no_color: bool

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._bad: dict[str, tuple[Setting, str, str]] = {}
        for s in SETTINGS:
            text = environ.get(s.env, "")
            if not text:
                setattr(self, s.attr, s.default)
                continue
            try:
                setattr(self, s.attr, s.parse(text))
            except BadValue as exc:
                self._bad[s.attr] = (s, text, str(exc))

    def __getattr__(self, attr: str) -> object:
        """Only for a setting whose value did not parse: it fails where it is used, not before."""
        bad = self.__dict__.get("_bad", {}).get(attr)
        if bad is None:
            raise AttributeError(attr)
        s, text, why = bad
        from .errors import InvalidInput

        raise InvalidInput(f"the environment variable {s.env}={text!r} is invalid: it {why}",
                           f"fix it or unset it ({s.env}: {s.help})")


_current: list[Settings] = []


def current() -> Settings:
    """The settings of this process, read from its environment once."""
    if not _current:
        _current.append(Settings(os.environ))
    return _current[0]


def reset() -> None:
    """Forget the settings read (tests change the environment)."""
    _current.clear()


def documented() -> list[Setting]:
    """The settings crossbox(1) lists."""
    return [s for s in SETTINGS if not s.hidden]
