"""crossbox.host.owned: the record of what crossbox made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crossbox.host import owned


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(owned, "base_dir", lambda: str(tmp_path / "crossbox"))
    return tmp_path / "crossbox"


def test_images_and_containers_are_recorded_and_forgotten(data_home: Path) -> None:
    owned.add_image("quay.io/a/b:1-arm64", "sha256:1")
    owned.add_container("c" * 64, "box")
    record = owned.load()
    assert record.images == {"quay.io/a/b:1-arm64": "sha256:1"}
    assert record.containers == {"c" * 64: "box"}
    owned.forget_images(["quay.io/a/b:1-arm64", "never-recorded"])
    owned.forget_containers(["c" * 64])
    assert (owned.load().images, owned.load().containers) == ({}, {})
    assert [p.name for p in data_home.iterdir() if p.name.startswith(".owned-")] == []


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"images": [1, 2]}', '{"images": {"a": 1}}',
                                  '{"containers": "x"}'])
def test_a_corrupt_record_counts_as_empty_and_is_rewritten(data_home: Path, text: str) -> None:
    data_home.mkdir()
    (data_home / "owned.json").write_text(text)
    assert owned.load().images == {}
    owned.add_image("x:1", "sha256:2")
    assert json.loads((data_home / "owned.json").read_text())["images"] == {"x:1": "sha256:2"}
