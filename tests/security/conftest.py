"""Real server processes for the security tests, pointed at this run's test database (SQLite
or PostgreSQL, whichever the suite runs on); the private Redis fixtures are in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import ServerFactory


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start ``scanpulse serve`` processes on the test database; all are killed afterwards."""
    with ServerFactory(tmp_path) as start:
        yield start
