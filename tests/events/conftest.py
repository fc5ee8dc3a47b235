"""Real server processes for the stream tests, sharing the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import ServerFactory


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    with ServerFactory(tmp_path, SCANPULSE_SSE_HEARTBEAT_SECONDS="15") as start:
        yield start
