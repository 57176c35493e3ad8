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
