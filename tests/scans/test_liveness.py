"""Scans that lose their worker, get delivered twice, run too long, or report too often."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans.claims import scan_claim_next, scan_start
from scanpulse.scans.housekeeping import (
    reap_stale_scans,
    remove_abandoned_workspaces,
    requeue_lost_pending,
)
from scanpulse.scans.log import read_events
from scanpulse.scans.models import Scan
from scanpulse.scans.reporter import ScanReporter
from scanpulse.scans.services import scan_cancel
from tests.scans.conftest import wait_for_scan
from tests.support.analyzers import PLUGINS
from tests.support.repos import vulnerable_repo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project(tenant, tmp_path) -> Project:
    repo = vulnerable_repo(tmp_path / "repo")
    return Project.objects.create(organization=tenant.org, name="p", repo_url=str(repo.path))


def running_scan(project: Project, *, attempt: int, heartbeat_age: float) -> Scan:
    return Scan.objects.create(
        project=project,
        organization=project.organization,
        ref="main",
        status="running",
        attempt=attempt,
        started_at=timezone.now() - timedelta(minutes=5),
        heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age),
    )


def test_a_second_delivery_of_a_live_scan_changes_nothing(project) -> None:
    scan = running_scan(project, attempt=1, heartbeat_age=1)
    assert scan_start(scan_id=scan.id, attempt_limit=3) is None
    scan.refresh_from_db()
    assert (scan.status, scan.attempt, scan.last_event_seq) == ("running", 1, 0)


def test_a_scan_whose_worker_vanished_starts_again_and_completes(project) -> None:
    # given: a scan whose worker stopped heartbeating a minute ago
    scan = running_scan(project, attempt=1, heartbeat_age=60)
    # when
    assert reap_stale_scans() == 1
    # then: it runs again as attempt 2, in the same event sequence
    scan = wait_for_scan(scan.id)
    assert scan.status == "completed" and scan.attempt == 2
    events = read_events(scan_id=scan.id, after=0, limit=1000)
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    kinds = [event.kind for event in events]
    assert kinds[0] == "log" and "stopped responding" in events[0].data["message"]
    assert kinds[1] == "attempt" and events[1].data["attempt"] == 2
    assert scan.findings.filter(tool="bandit").count() == 3


def test_a_scan_out_of_attempts_fails_with_a_reason(project, settings) -> None:
    settings.SCANPULSE_SCAN_ATTEMPTS = 2
    scan = running_scan(project, attempt=2, heartbeat_age=60)
    reap_stale_scans()
    scan.refresh_from_db()
    assert scan.status == "failed"
    assert scan.error_message == (
        "The worker running this scan stopped responding, 2 times; the scan was given up."
    )


def test_live_scans_are_left_alone_by_the_reaper(project) -> None:
    scan = running_scan(project, attempt=1, heartbeat_age=2)
    assert reap_stale_scans() == 0
    assert Scan.objects.get(pk=scan.pk).last_event_seq == 0


def test_a_pending_scan_whose_message_was_lost_is_queued_again(project, settings) -> None:
    settings.SCANPULSE_REQUEUE_PENDING_SECONDS = 60
    scan = Scan.objects.create(
        project=project,
        organization=project.organization,
        ref="main",
        enqueued_at=timezone.now() - timedelta(minutes=10),
    )
    assert requeue_lost_pending() == 1
    assert wait_for_scan(scan.id).status == "completed"


def test_a_scan_given_up_whose_request_was_lost_is_queued_again(project, settings) -> None:
    # given: housekeeping gave the scan's dead worker up long ago, and the request for a new
    # worker it sent was lost (a broker restarted without its data)
    settings.SCANPULSE_REQUEUE_PENDING_SECONDS = 60
    scan = running_scan(project, attempt=1, heartbeat_age=0)
    Scan.objects.filter(pk=scan.pk).update(
        heartbeat_at=None, enqueued_at=timezone.now() - timedelta(minutes=10)
    )
    # when
    assert requeue_lost_pending() == 1
    # then
    scan = wait_for_scan(scan.id)
    assert scan.status == "completed" and scan.attempt == 2


def test_a_scan_waiting_for_a_new_attempt_is_cancelled_at_once(project, tenant) -> None:
    # given: housekeeping gave the scan's worker up; the scan waits for a free worker
    scan = running_scan(project, attempt=1, heartbeat_age=60)
    with pytest.MonkeyPatch.context() as patch:  # no free worker yet
        patch.setattr(
            "scanpulse.scans.executors.inprocess.InProcessExecutor.submit", lambda *a: None
        )
        reap_stale_scans()
    assert Scan.objects.get(pk=scan.pk).step == "Queued: waiting for a free worker"
    # when
    cancelled = scan_cancel(user=tenant.user, scan=scan)
    # then: nothing runs it, so nothing has to acknowledge the cancellation first
    assert cancelled.status == "cancelled"
    assert cancelled.error_message == f"Scan cancelled by {tenant.user.email}."
    assert scan_claim_next(attempt_limit=3) is None


def test_a_free_slot_ends_a_given_up_scan_cancelled_meanwhile_and_runs_the_next(
    project, tenant
) -> None:
    # given: a scan waiting for a new attempt that someone cancelled, and a queued one
    given_up = running_scan(project, attempt=1, heartbeat_age=0)
    Scan.objects.filter(pk=given_up.pk).update(
        heartbeat_at=None, cancel_requested_at=timezone.now(), cancelled_by=tenant.user
    )
    queued = Scan.objects.create(project=project, organization=project.organization, ref="main")
    # when: a slot asks for work
    started = scan_claim_next(attempt_limit=3)
    # then: the cancelled one ends as cancelled, and the slot is not wasted
    assert started is not None and started.pk == queued.pk
    assert (started.status, started.attempt) == ("running", 1)
    given_up.refresh_from_db()
    assert given_up.status == "cancelled"
    assert given_up.error_message == f"Scan cancelled by {tenant.user.email}."
    assert scan_claim_next(attempt_limit=3) is None  # nothing else waits


def test_a_scan_over_its_time_limit_fails_clearly(tenant, tmp_path, settings) -> None:
    settings.SCANPULSE_SCAN_TIME_LIMIT = 1
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["paced:PacedAnalyzer"]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"paced": {"seconds_per_file": 1.0}}
    repo = vulnerable_repo(tmp_path / "repo")
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(repo.path))
    response = tenant.client.post("/api/scans/", {"project": str(project.id)}, format="json")
    scan = wait_for_scan(response.json()["id"], timeout=30)
    assert scan.status == "failed"
    assert scan.error_message == "The scan took longer than its 1 s limit."


def test_checkouts_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"scan-{dead.pid}-abc").mkdir()
    (tmp_path / f"scan-{os.getpid()}-def").mkdir()
    (tmp_path / "advisories").mkdir()
    assert remove_abandoned_workspaces(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advisories", f"scan-{os.getpid()}-def"]


def test_progress_is_coalesced_but_never_the_last_value(project, settings) -> None:
    scan = running_scan(project, attempt=1, heartbeat_age=0)
    reporter = ScanReporter(scan.id, min_interval=0.1)
    started = time.monotonic()
    for percent in range(1, 61):
        reporter.progress(percent)
        time.sleep(0.005)
    reporter.log("done")
    elapsed = time.monotonic() - started
    events = read_events(scan_id=scan.id, after=0)
    progress = [event.data["progress"] for event in events if event.kind == "progress"]
    assert len(progress) <= elapsed * 10 + 2, "at most ten progress events a second"
    assert progress[-1] == 60, "the newest value is written before the next log line"
    assert events[-1].kind == "log"
