"""One contract, every scan executor: the in-process pool, and Celery (a real ``scanpulse
worker`` taking slot requests from a private redis-server, on this run's test database).

What a user relies on, whichever runs their scans: a request for a slot runs the scan that
waits, whichever scan asked; a cancelled scan stops; and stopping the executor loses no scan.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from scanpulse.projects.models import Project
from scanpulse.scans.executor import ScanExecutor, get_executor, reset_executor
from scanpulse.scans.models import Scan
from scanpulse.scans.services import scan_cancel, scan_create
from tests.scans.conftest import wait_for_scan
from tests.support import brokers
from tests.support.analyzers import paced_settings
from tests.support.repos import make_repo
from tests.support.services import RedisServer, redis_server
from tests.support.workers import Worker

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))
SECONDS_PER_FILE = 0.1
PACED = paced_settings(SECONDS_PER_FILE)


@pytest.fixture(scope="module")
def worker(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, Worker]]:
    """One broker and one worker for the module's Celery tests (a worker takes seconds to
    start); started only when a Celery test asks for it."""
    workdir = tmp_path_factory.mktemp("celery")
    with redis_server(workdir) as broker:
        started = Worker(broker, workdir, PACED)
        try:
            yield broker, started
        finally:
            started.stop()


@pytest.fixture(params=["in-process", "celery"])
def executor(request: pytest.FixtureRequest, settings: Any) -> Iterator[ScanExecutor]:
    settings.SCANPULSE_ANALYZER_PATHS = [PACED["SCANPULSE_ANALYZER_PATHS"]]
    settings.SCANPULSE_ANALYZERS = [PACED["SCANPULSE_ANALYZERS"]]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"paced": {"seconds_per_file": SECONDS_PER_FILE}}
    settings.SCANPULSE_WORKER_CONCURRENCY = 1  # as the worker: one slot
    if request.param == "in-process":
        settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    else:
        broker, _worker = request.getfixturevalue("worker")
        settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.celery.CeleryExecutor"
        settings.SCANPULSE_CELERY_APP = "tests.support.brokers.app"
        # The application's settings, with the broker the worker listens to.
        brokers.app = Celery("scanpulse-tests", broker=broker.url, set_as_current=False)
        brokers.app.config_from_object("django.conf:settings", namespace="CELERY")
    reset_executor()
    yield get_executor()
    reset_executor()
    if brokers.app is not None:
        brokers.app.close()
        brokers.app = None


@pytest.fixture
def project(tenant: Any, tmp_path: Path) -> Callable[[int], Project]:
    """A project whose scans take about ``files`` tenths of a second."""

    def make(files: int) -> Project:
        repo = make_repo(
            tmp_path / f"repo{files}", {f"file{n}.txt": f"{n}\n" for n in range(files)}
        )
        return Project.objects.create(organization=tenant.org, name=f"p{files}", repo_url=str(repo))

    return make


def wait_until(scan: Scan, condition: Callable[[Scan], bool], timeout: float = 60) -> Scan:
    deadline = time.monotonic() + timeout
    while True:
        scan.refresh_from_db()
        if condition(scan):
            return scan
        assert time.monotonic() < deadline, (scan.status, scan.step, scan.progress)
        time.sleep(0.05)


@contextlib.contextmanager
def no_slot_requests(executor: ScanExecutor) -> Iterator[None]:
    """Scans created meanwhile wait, as when every slot is busy and their requests are late."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(executor, "submit", lambda scan_id: None)
        yield


def test_a_requested_slot_runs_the_waiting_scan(executor, tenant, project) -> None:
    scan = scan_create(user=tenant.user, project=project(3))
    done = wait_for_scan(scan.id, timeout=60)
    assert done.status == "completed", done.error_message
    assert done.attempt == 1 and done.findings_count == 3  # the paced analyzer: one a file


def test_a_slot_runs_whichever_scan_waits_not_the_one_that_asked(executor, tenant, project) -> None:
    # given: a scan waiting for a slot that nobody asked for yet
    with no_slot_requests(executor):
        waiting = scan_create(user=tenant.user, project=project(2))
    time.sleep(1)
    assert Scan.objects.get(pk=waiting.pk).status == "pending"
    # when: a slot is asked for on behalf of another scan (which no longer waits)
    executor.submit("00000000-0000-0000-0000-000000000000")
    # then: the slot runs the scan that waits
    assert wait_for_scan(waiting.id, timeout=60).status == "completed"


def test_a_spare_request_runs_nothing_and_the_next_still_runs(executor, tenant, project) -> None:
    executor.submit("00000000-0000-0000-0000-000000000000")  # nothing waits
    time.sleep(1)
    scan = scan_create(user=tenant.user, project=project(2))
    assert wait_for_scan(scan.id, timeout=60).status == "completed"


def test_a_cancelled_running_scan_stops_within_seconds(executor, tenant, project) -> None:
    # given: a scan of about 30 s, running
    scan = scan_create(user=tenant.user, project=project(300))
    wait_until(scan, lambda s: s.status == "running" and s.progress > 10)
    # when
    cancelled_at = time.monotonic()
    scan_cancel(user=tenant.user, scan=scan)
    # then: it ends cancelled, saying who cancelled it, long before it would have completed
    scan = wait_until(scan, lambda s: s.is_terminal, timeout=20)
    assert time.monotonic() - cancelled_at < 10
    assert scan.status == "cancelled"
    assert scan.error_message == f"Scan cancelled by {tenant.user.email}."


def test_stopping_the_executor_loses_no_scan(executor, tenant, project) -> None:
    # given: one scan running in the only slot, another waiting behind it
    first = scan_create(user=tenant.user, project=project(20))
    wait_until(first, lambda s: s.status == "running")
    second = scan_create(user=tenant.user, project=project(2))
    # when: the executor stops, waiting for what runs in this process
    executor.shutdown(wait=True)
    # then: no scan failed or was given up for it; nothing runs here any more ...
    assert executor.running() == 0
    for scan in (first, second):
        scan.refresh_from_db()
        assert scan.status in ("pending", "running", "completed"), scan.error_message
    # ... and a new executor (a restart) asked for a slot runs whatever still waits
    reset_executor(wait=True)
    get_executor().submit(second.id)
    for scan in (first, second):
        done = wait_for_scan(scan.id, timeout=60)
        assert done.status == "completed", done.error_message
        assert done.attempt == 1
