"""The production topology with RabbitMQ as the Celery broker instead of Redis.

Redis still carries the event bus; only the scan queue moves. What differs between brokers is
how an unacknowledged message comes back: RabbitMQ returns it the moment the consumer's
connection closes. These tests show that scans run, cancels reach queued scans, and a killed
worker's scan completes elsewhere, the same as with Redis (see test_faults.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kombu import Connection

from tests.faults.conftest import (
    HEARTBEAT_TIMEOUT,
    HOUSEKEEPING,
    SECONDS_PER_FILE,
    fault_options,
    require,
    require_services,
)
from tests.faults.helpers import Api, assert_gap_free, is_log, source_repo
from tests.support.topology import Topology

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(180)]

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
FILES = 30  # about 3 s of analysis


def _rabbitmq_listening() -> bool:
    address = urlsplit(RABBITMQ_URL)
    with (
        contextlib.suppress(OSError),
        socket.create_connection(
            (address.hostname or "127.0.0.1", address.port or 5672), timeout=2
        ),
    ):
        return True
    return False


@pytest.fixture(scope="module")
def queue() -> str:
    return f"scanpulse-test-{uuid.uuid4().hex[:12]}"  # this run's own, on a shared broker


@pytest.fixture(scope="module")
def topology(queue: str) -> Iterator[Topology]:
    require_services()
    require(_rabbitmq_listening(), f"RabbitMQ at {RABBITMQ_URL}")
    options = fault_options(
        {"SCANPULSE_BROKER_URL": RABBITMQ_URL, "SCANPULSE_QUEUE": queue},
        web_nodes=1,
        workers=2,
        worker_concurrency=1,
    )
    try:
        with Topology(options) as running:
            running.seed_tenant()
            yield running
    finally:
        with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(queue)


@pytest.fixture
def api(topology: Topology) -> Iterator[Api]:
    topology.ensure_running()
    assert topology.seed is not None
    client = Api(topology.url, topology.seed.token)
    yield client
    client.close()


def _running(api: Api, scan_id: str) -> None:
    api.wait_for_event(scan_id, lambda event: is_log(event, "paced: looked at"), 30)


def test_scans_run_through_rabbitmq(api: Api, queue: str, tmp_path: Path) -> None:
    with Connection(RABBITMQ_URL, connect_timeout=5) as connection:
        # Passive: fails unless the queue exists; both workers consume from it.
        _, _, consumers = connection.default_channel.queue_declare(queue, passive=True)
    assert consumers == 2
    project = api.project("rabbit", str(source_repo(tmp_path / "repo", FILES)))
    scans = [api.start_scan(project) for _ in range(3)]  # more than the two worker slots
    for scan in scans:
        done = api.wait(scan["id"], 60)
        assert done["status"] == "completed", done
        assert done["findings_count"] == api.findings_count(scan["id"]) == FILES
        events = api.events(scan["id"])
        assert_gap_free(events)
        assert not [event for event in events if event["kind"] == "attempt"]


def test_cancel_reaches_a_scan_waiting_in_the_rabbitmq_queue(api: Api, tmp_path: Path) -> None:
    project = api.project("rabbit-cancel", str(source_repo(tmp_path / "repo", FILES)))
    busy = [api.start_scan(project) for _ in range(2)]
    for scan in busy:
        api.wait(scan["id"], 30, until=lambda s: s["status"] == "running")
    queued = api.start_scan(project)
    assert api.scan(queued["id"])["status"] == "pending"
    api.cancel(queued["id"])
    assert api.wait(queued["id"], 5)["status"] == "cancelled"
    for scan in busy:
        assert api.wait(scan["id"], 30)["status"] == "completed"
    time.sleep(2)  # both slots are free: a revoked message that still ran would show by now
    assert [event["kind"] for event in api.events(queued["id"])] == ["status", "cancelled"]
    assert api.scan(queued["id"])["attempt"] == 0


def test_killed_worker_scan_completes_on_the_other_worker(
    topology: Topology, api: Api, tmp_path: Path
) -> None:
    scan = api.start_scan(api.project("rabbit-kill", str(source_repo(tmp_path / "repo", FILES))))
    _running(api, scan["id"])
    [workspace] = topology.workspaces()
    victim = topology.worker_running(int(workspace.name.split("-")[1]))
    assert victim is not None

    victim.kill()
    killed = time.monotonic()
    done = api.wait(scan["id"], 60)
    recovered = time.monotonic() - killed

    assert done["status"] == "completed", done
    assert done["findings_count"] == api.findings_count(scan["id"]) == FILES
    events = api.events(scan["id"])
    assert_gap_free(events)
    assert [e["data"]["attempt"] for e in events if e["kind"] == "attempt"] == [2]
    assert recovered < HEARTBEAT_TIMEOUT + 2 * HOUSEKEEPING + 3 + FILES * SECONDS_PER_FILE * 2
    print(f"rabbitmq, worker killed: completed {recovered:.1f} s later, attempt 2")
