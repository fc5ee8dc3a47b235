"""The production shape of schedules for real: one ``celery beat`` (deploy/start-beat,
django-celery-beat's database scheduler) sends a one-minute schedule's task to a Celery
worker, on PostgreSQL and Redis; a scan starts within the minute. The embedded server's
thread passes the same check in tests/schedules/test_serve.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import fault_options, require_services
from tests.faults.helpers import source_repo
from tests.support.schedules import a_minute_schedule_starts_a_scan
from tests.support.topology import Topology

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(180)]

# beat looks at the database every BEAT_MAX_INTERVAL (5 s in the topology) and sends the task
# when it is due; the worker takes it at once.
SLACK = 5 + 5


@pytest.fixture(scope="module")
def production() -> Iterator[Topology]:
    require_services()
    options = fault_options(web_nodes=1, workers=1, nginx=False, behind_tls=False)
    with Topology(options) as running:
        running.seed_tenant()
        yield running


def test_celery_beat_starts_a_scan_of_a_one_minute_schedule_within_the_minute(
    production: Topology, tmp_path: Path
) -> None:
    assert production.seed is not None and production.beat is not None
    repo = source_repo(tmp_path / "repo", 3)
    with httpx.Client(
        base_url=production.url,
        headers={"Authorization": f"Bearer {production.seed.token}"},
        timeout=30,
    ) as client:
        created = client.post("/api/projects/", json={"name": "nightly", "repo_url": str(repo)})
        assert created.status_code == 201, created.text
        try:
            scan = a_minute_schedule_starts_a_scan(client, created.json()["id"], slack=SLACK)
        except AssertionError:
            print(f"===== beat =====\n{production.beat.log_tail(6000)}")
            print(f"===== w1 =====\n{production.workers[0].log_tail(6000)}")
            raise
    assert scan["ref"] == "main"
    # the scan ran on the worker, sent there by beat
    assert "scanpulse.schedules.run_schedule" in production.beat.log_text()
