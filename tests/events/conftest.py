"""Real server processes for the stream tests, sharing the test database, and a scan to watch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan
from tests.support.services import ServerFactory


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    with ServerFactory(tmp_path, SCANPULSE_SSE_HEARTBEAT_SECONDS="15") as start:
        yield start


@pytest.fixture
def scan(tenant, tmp_path) -> Scan:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="running"
    )


@pytest.fixture
def pair(servers, redis_bus):
    """Two web processes behind one Redis, as in production."""
    env = {"REDIS_URL": redis_bus.url, "SCANPULSE_STREAM_LEASE_SECONDS": "2"}
    return servers(**env), servers(**env)
