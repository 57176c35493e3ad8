"""A small cache of host probes that need pyelftools, keyed by the files they read.

Parsing ELF files needs pyelftools, whose import alone costs more than podman
takes to create a container. The results depend only on a few files, so they
are kept in ``$XDG_CACHE_HOME/crossbox/probes.json`` with each file's
(mtime, size, inode), and recomputed as soon as one of them changes.

``remember``/``recall`` keep guesses in the same file: values that a caller
checks against the truth before it keeps anything made from them (create's
image facts, see commands/create.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable

from crossbox.shared.version import VERSION

from . import log
from .settings import current as settings

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Any


def cache_path() -> str:
    base = settings().cache_home or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "crossbox", "probes.json")


def _stamp(paths: list[str]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([p, st.st_mtime_ns, st.st_size, st.st_ino])
        except OSError:
            out.append([p, None, None, None])
    return out


def _load() -> dict[str, Any]:
    try:
        with open(cache_path(), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("entries", {}), dict):
        return {}  # another version's, or not the shape written here: rebuilt
    return data


def _store(data: dict[str, Any]) -> None:
    import tempfile

    path = cache_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".probes-", dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("cannot write the probe cache", path=path, error=str(exc))
        with contextlib.suppress(Exception):
            os.unlink(tmp)


def cached(key: str, paths: list[str], compute: Callable[[], Any]) -> Any:
    """compute(), or its stored result while none of ``paths`` has changed."""
    if settings().no_cache:
        return compute()
    stamp = _stamp(paths)
    data = _load()
    entry = data.get("entries", {}).get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and "value" in entry:
        return entry["value"]
    value = compute()
    data = _load()  # another crossbox may have written meanwhile
    data["version"] = VERSION
    data.setdefault("entries", {})[key] = {"stamp": stamp, "value": value}
    _store(data)
    return value


GUESSES = 64


def remember(key: str, value: Any) -> None:
    """Keep ``value`` as a guess under ``key`` (no file stamps: the caller checks it when used);
    the last GUESSES keys are kept."""
    if settings().no_cache:
        return
    data = _load()
    kept = data.get("guesses")
    guesses: dict[str, Any] = dict(kept) if isinstance(kept, dict) else {}
    if guesses.get(key) == value:
        return  # already known: nothing written
    guesses.pop(key, None)
    guesses[key] = value
    data["version"] = VERSION
    data.setdefault("entries", {})
    data["guesses"] = dict(list(guesses.items())[-GUESSES:])
    _store(data)


def recall(key: str) -> Any:
    """The guess kept under ``key``, or None."""
    if settings().no_cache:
        return None
    guesses = _load().get("guesses")
    return guesses.get(key) if isinstance(guesses, dict) else None
