"""crossbox.host.cache: probe results kept while the files they read are unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from crossbox.host import cache
from crossbox.shared.version import VERSION


@pytest.fixture
def stamp_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CROSSBOX_NO_CACHE", raising=False)
    path = tmp_path / "qemu-aarch64-static"
    path.write_bytes(b"v1")
    return path


class Probe:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, object]:
        self.calls += 1
        return {"ok": True, "n": self.calls}


def test_cache_path_follows_xdg_cache_home(stamp_file: Path, tmp_path: Path) -> None:
    assert cache.cache_path() == str(tmp_path / "cache" / "crossbox" / "probes.json")


def test_computes_once_while_the_file_is_unchanged(stamp_file: Path) -> None:
    probe = Probe()
    first = cache.cached("k", [str(stamp_file)], probe)
    second = cache.cached("k", [str(stamp_file)], probe)
    assert first == second == {"ok": True, "n": 1}
    assert probe.calls == 1
    stored = json.loads(Path(cache.cache_path()).read_text())
    assert stored["version"] == VERSION
    assert stored["entries"]["k"]["value"] == {"ok": True, "n": 1}


def test_recomputes_after_the_file_changes(stamp_file: Path) -> None:
    probe = Probe()
    cache.cached("k", [str(stamp_file)], probe)
    st = os.stat(stamp_file)
    os.utime(stamp_file, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert cache.cached("k", [str(stamp_file)], probe) == {"ok": True, "n": 2}
    assert cache.cached("k", [str(stamp_file)], probe) == {"ok": True, "n": 2}
    assert probe.calls == 2


def test_recomputes_after_a_same_time_rewrite_of_another_size(stamp_file: Path) -> None:
    probe = Probe()
    cache.cached("k", [str(stamp_file)], probe)
    st = os.stat(stamp_file)
    stamp_file.write_bytes(b"version two")
    os.utime(stamp_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.cached("k", [str(stamp_file)], probe)["n"] == 2


def test_recomputes_when_a_missing_file_appears(stamp_file: Path, tmp_path: Path) -> None:
    probe = Probe()
    later = tmp_path / "ld.so.cache"
    cache.cached("k", [str(later)], probe)
    cache.cached("k", [str(later)], probe)
    assert probe.calls == 1
    later.write_text("now here")
    cache.cached("k", [str(later)], probe)
    assert probe.calls == 2


def test_keys_are_independent(stamp_file: Path) -> None:
    a, b = Probe(), Probe()
    cache.cached("a", [str(stamp_file)], a)
    cache.cached("b", [str(stamp_file)], b)
    cache.cached("a", [str(stamp_file)], a)
    assert (a.calls, b.calls) == (1, 1)


def test_no_cache_env_bypasses_it(stamp_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOX_NO_CACHE", "1")
    probe = Probe()
    cache.cached("k", [str(stamp_file)], probe)
    cache.cached("k", [str(stamp_file)], probe)
    assert probe.calls == 2
    assert not os.path.exists(cache.cache_path())


def test_a_cache_of_another_version_is_ignored(stamp_file: Path) -> None:
    probe = Probe()
    cache.cached("k", [str(stamp_file)], probe)
    path = Path(cache.cache_path())
    data = json.loads(path.read_text())
    data["version"] = "0.0.0-old"
    path.write_text(json.dumps(data))
    assert cache.cached("k", [str(stamp_file)], probe)["n"] == 2


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]"])
def test_a_corrupt_cache_is_recomputed_and_rewritten(stamp_file: Path, content: str) -> None:
    path = Path(cache.cache_path())
    path.parent.mkdir(parents=True)
    path.write_text(content)
    probe = Probe()
    assert cache.cached("k", [str(stamp_file)], probe) == {"ok": True, "n": 1}
    assert json.loads(path.read_text())["entries"]["k"]["value"] == {"ok": True, "n": 1}


def test_an_unwritable_cache_still_returns_the_value(stamp_file: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    probe = Probe()
    assert cache.cached("k", [str(stamp_file)], probe) == {"ok": True, "n": 1}
    assert cache.cached("k", [str(stamp_file)], probe) == {"ok": True, "n": 2}


def test_a_remembered_guess_is_recalled_and_rewritten_only_when_it_changes(stamp_file: Path) -> None:
    assert cache.recall("image:x") is None
    cache.remember("image:x", {"id": "a"})
    written = os.stat(cache.cache_path()).st_mtime_ns
    cache.remember("image:x", {"id": "a"})
    assert os.stat(cache.cache_path()).st_mtime_ns == written
    cache.remember("image:x", {"id": "b"})
    assert cache.recall("image:x") == {"id": "b"}
    assert cache.cached("k", [str(stamp_file)], Probe()) == {"ok": True, "n": 1}
    assert cache.recall("image:x") == {"id": "b"}  # probes and guesses share the file


def test_only_the_last_guesses_are_kept(stamp_file: Path) -> None:
    for n in range(cache.GUESSES + 5):
        cache.remember(f"image:{n}", n)
    assert cache.recall("image:0") is None
    assert cache.recall(f"image:{cache.GUESSES + 4}") == cache.GUESSES + 4
    data = json.loads(Path(cache.cache_path()).read_text())
    assert len(data["guesses"]) == cache.GUESSES


@pytest.mark.parametrize("content", [json.dumps({"version": VERSION, "guesses": []}), "[1]"])
def test_guesses_of_the_wrong_shape_are_none(stamp_file: Path, content: str) -> None:
    Path(cache.cache_path()).parent.mkdir(parents=True, exist_ok=True)
    Path(cache.cache_path()).write_text(content)
    assert cache.recall("image:x") is None
    cache.remember("image:x", 1)
    assert cache.recall("image:x") == 1
