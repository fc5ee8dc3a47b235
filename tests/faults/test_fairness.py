"""Scheduling across organizations in the production topology: Celery workers on two nodes,
PostgreSQL, Redis, two web nodes behind nginx. The broker's queue is first in, first out;
the order scans run in comes from the database, so one organization's many queued scans do
not hold back another's, and how many an organization may queue is limited (429).

The same is measured on an embedded server in tests/scans/test_fairness.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import fault_options, require_services
from tests.faults.helpers import TERMINAL, Api, assert_gap_free, source_repo
from tests.support.fairness import assert_started_in_the_first_free_slot
from tests.support.topology import Seed, Topology

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(240)]

SLOTS = 4  # two workers, two scans each
QUOTA = 12  # SCANPULSE_MAX_PENDING_SCANS_PER_ORG of this topology
FILES = 120  # about 12 s per scan of organization A: no slot frees while the test queues
# A worker process that ends a scan takes the next message at once (the broker already holds
# it); the hand-over is a few hundredths of a second, two seconds cover a loaded machine.
HAND_OVER_SLACK = 2.0


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    require_services()
    options = fault_options({"SCANPULSE_MAX_PENDING_SCANS_PER_ORG": str(QUOTA)})
    with Topology(options) as running:
        running.seed_tenant()
        yield running


@pytest.fixture(scope="module")
def other_seed(topology: Topology) -> Seed:
    return topology.seed_tenant("other", "owner@other.example")


def queue_at_once(api: Api, project: str, count: int) -> list[httpx.Response]:
    """``count`` requests for a scan, all in flight together (each its own connection)."""
    responses: list[httpx.Response] = []
    lock = threading.Lock()
    go = threading.Barrier(count)

    def one() -> None:
        with httpx.Client(base_url=api.base_url, headers=api.client.headers, timeout=30) as c:
            go.wait()
            response = c.post("/api/scans/", json={"project": project})
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


def cancel_all(api: Api, project: str) -> None:
    for scan in api.scans(project):
        if scan["status"] not in TERMINAL:
            api.cancel(scan["id"])
    for scan in api.scans(project):
        api.wait(scan["id"], 60)


def test_another_organizations_scan_starts_in_the_next_free_slot(
    whole: Topology, api: Api, other_seed: Seed, tmp_path: Path
) -> None:
    other = Api(whole.url, other_seed.token)
    a_project = api.project("busy", str(source_repo(tmp_path / "busy", FILES)))
    b_project = other.project("single", str(source_repo(tmp_path / "single", 5)))
    try:
        # given: organization A fills every slot, then queues as many as it may at once
        for scan in [api.start_scan(a_project) for _ in range(SLOTS)]:
            api.wait(scan["id"], 30, until=lambda s: s["status"] == "running")
        answers = queue_at_once(api, a_project, QUOTA + 4)

        # then: exactly the quota was accepted (PostgreSQL, two web nodes, concurrent
        # requests); the rest were told why, in the API's error shape, and when to retry
        statuses = sorted(response.status_code for response in answers)
        assert statuses == [201] * QUOTA + [429] * 4, statuses
        refused = next(response for response in answers if response.status_code == 429)
        assert refused.headers["retry-after"] == "30"
        assert refused.json()["error"]["code"] == "queue_full"
        assert refused.json()["error"]["message"].startswith(
            f"Organization topology already has {QUOTA} scans waiting for a worker"
        )
        pending = [scan for scan in api.scans(a_project) if scan["status"] == "pending"]
        assert len(pending) == QUOTA

        # when: organization B queues one scan
        response = other.client.post("/api/scans/", json={"project": b_project})
        queued_at = datetime.now(UTC)
        assert response.status_code == 201, response.text

        # then: it says why it waits, and starts in the first slot that frees
        waiting = response.json()
        assert (waiting["status"], waiting["step"]) == (
            "pending",
            "Queued: waiting for a free worker",
        )
        done: dict[str, Any] = other.wait(waiting["id"], 60)
        assert done["status"] == "completed", done
        assert_gap_free(other.events(done["id"]))
        wait = assert_started_in_the_first_free_slot(
            done, api.scans(a_project), queued=queued_at, slack=HAND_OVER_SLACK
        )
        assert wait.queued_ahead == QUOTA
        print(f"Celery workers, organization B's scan: {wait}")
    finally:
        cancel_all(api, a_project)
        other.close()
