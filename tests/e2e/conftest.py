"""Fixtures of the end-to-end suite: the test bed, and the host binfmt_misc guard."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bed.bed import Bed, binfmt_snapshot, new_workdir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def bed() -> Iterator[Bed]:
    if os.geteuid() != 0:
        pytest.fail("the end-to-end suite runs as root (it also drives a rootless test user)")
    b = Bed(new_workdir())
    try:
        b.start()
        yield b
    finally:
        b.stop()


@pytest.fixture(autouse=True)
def host_binfmt_unchanged() -> Iterator[None]:
    """Every end-to-end test leaves the host's binfmt_misc exactly as it found it."""
    before = binfmt_snapshot()
    yield
    after = binfmt_snapshot()
    assert after == before, f"the host's binfmt_misc changed: {before} -> {after}"


@pytest.fixture(params=["rootful", "rootless"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rootless(mode: str) -> bool:
    return mode == "rootless"


@pytest.fixture
def box(bed: Bed, rootless: bool, name: str) -> Iterator[str]:
    """A container name, whose container (crossbox's or not) is removed after the test."""
    yield name
    bed.crossbox(["rm", "--force", name], rootless=rootless)
    bed.podman(["rm", "-f", name], rootless=rootless)


@pytest.fixture
def name(bed: Bed) -> str:
    """A container name unique to this test and to this bed (concurrent runs do not collide)."""
    return f"{bed.name_prefix}{uuid.uuid4().hex[:8]}"
