"""The embedded shape for real: a ``scanpulse serve`` process runs a one-minute schedule with
its own thread (the same check runs against celery beat in tests/faults/test_schedules.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.analyzers import paced_settings
from tests.support.repos import make_repo
from tests.support.schedules import a_minute_schedule_starts_a_scan
from tests.support.services import ServerFactory

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(120)]

# The server looks for due schedules every SCANPULSE_SCHEDULE_TICK_SECONDS (5 by default).
SLACK = 5 + 3


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    with ServerFactory(tmp_path) as start:
        yield start


def test_a_one_minute_schedule_starts_a_scan_within_the_minute(servers, tenant, tmp_path) -> None:
    server = servers(**paced_settings(0.01))
    repo = make_repo(tmp_path / "repo", {"app.py": "VALUE = 1\n"})
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30
    ) as client:
        created = client.post("/api/projects/", json={"name": "nightly", "repo_url": str(repo)})
        assert created.status_code == 201, created.text
        scan = a_minute_schedule_starts_a_scan(client, created.json()["id"], slack=SLACK)
    assert scan["ref"] == "main"
