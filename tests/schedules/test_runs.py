"""A schedule's run, as both shapes call it — the embedded server's thread
(``run_due_schedules``) and the task celery beat sends (``run_schedule``): a scan attributed to
the schedule, never a second one of a ref that is queued or running, the organization's queue
limit respected, each outcome recorded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans import services as scan_services
from scanpulse.scans.models import Scan, ScanEvent, ScanStatus
from scanpulse.schedules.models import Schedule
from scanpulse.schedules.services import run_due_schedules, schedule_create, schedule_run
from scanpulse.schedules.tasks import run_schedule


def run_embedded(schedule: Schedule) -> None:
    """The embedded thread's pass, once the schedule's time has come."""
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    assert run_due_schedules() == 1


def run_by_beat(schedule: Schedule) -> None:
    """What a worker does with the message celery beat sends."""
    run_schedule(str(schedule.pk))


BOTH_MODES = pytest.mark.parametrize("run", [run_embedded, run_by_beat], ids=["embedded", "beat"])


@pytest.fixture
def project(tenant) -> Project:
    return Project.objects.create(organization=tenant.org, name="web", repo_url="/srv/web")


@pytest.fixture
def schedule(tenant, project) -> Schedule:
    return schedule_create(user=tenant.user, project=project, kind="cron", cron="0 3 * * *")


def first_event(scan: Scan) -> dict[str, Any]:
    return ScanEvent.objects.filter(scan=scan).order_by("seq").first().data  # type: ignore[union-attr]


@pytest.mark.django_db
@BOTH_MODES
def test_a_run_starts_a_scan_attributed_to_the_schedule(schedule, project, run: Callable) -> None:
    before = timezone.now()
    run(schedule)
    schedule.refresh_from_db()
    scan = Scan.objects.get(project=project)
    assert (scan.ref, scan.status, scan.requested_by) == ("main", ScanStatus.PENDING, None)
    assert first_event(scan)["requested_by"] == "schedule 0 3 * * * (UTC)"
    log = ScanEvent.objects.get(scan=scan, kind="log").data
    assert log == {"level": "info", "message": "Started by schedule 0 3 * * * (UTC)."}
    assert (schedule.last_outcome, schedule.last_scan) == ("started", scan)
    assert schedule.last_message == f"started scan {scan.id}"
    assert schedule.last_run_at is not None and schedule.last_run_at >= before
    assert schedule.next_run_at is not None
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (3, 0)
    assert schedule.next_run_at > schedule.last_run_at


@pytest.mark.django_db
@BOTH_MODES
@pytest.mark.parametrize("status", [ScanStatus.PENDING, ScanStatus.RUNNING])
def test_no_second_scan_while_one_of_the_ref_is_queued_or_running(
    schedule, project, run: Callable, status: str
) -> None:
    busy = Scan.objects.create(
        project=project, organization=project.organization, ref="main", status=status
    )
    run(schedule)
    schedule.refresh_from_db()
    assert list(Scan.objects.filter(project=project)) == [busy]
    assert schedule.last_outcome == "skipped"
    assert schedule.last_message == "skipped: a scan of main is already queued or running"
    assert schedule.last_scan is None
    assert schedule.next_run_at is not None and schedule.next_run_at > timezone.now()


@pytest.mark.django_db
@BOTH_MODES
def test_a_finished_scan_or_another_ref_does_not_hold_it_back(
    schedule, project, run: Callable
) -> None:
    for ref, status in (("main", ScanStatus.COMPLETED), ("dev", ScanStatus.RUNNING)):
        Scan.objects.create(
            project=project, organization=project.organization, ref=ref, status=status
        )
    run(schedule)
    schedule.refresh_from_db()
    assert schedule.last_outcome == "started"
    assert Scan.objects.filter(project=project, ref="main", status=ScanStatus.PENDING).count() == 1


@pytest.mark.django_db
@BOTH_MODES
def test_a_full_queue_refuses_the_run_and_says_so(
    schedule, project, run: Callable, settings
) -> None:
    settings.SCANPULSE_MAX_PENDING_SCANS_PER_ORG = 1
    Scan.objects.create(project=project, organization=project.organization, ref="dev")
    run(schedule)
    schedule.refresh_from_db()
    assert Scan.objects.filter(project=project).count() == 1
    assert schedule.last_outcome == "refused"
    assert schedule.last_message == (
        "refused: Organization acme already has 1 scan waiting for a worker, the most it may "
        "queue (limit 1). Try again once some have started, or cancel some."
    )


@pytest.mark.django_db
def test_the_embedded_pass_runs_only_what_is_due_and_enabled(tenant, project) -> None:
    due = schedule_create(user=tenant.user, project=project, kind="cron", cron="0 3 * * *")
    later = schedule_create(
        user=tenant.user, project=project, kind="interval", every=1, period="hours", ref="dev"
    )
    off = schedule_create(
        user=tenant.user, project=project, kind="cron", cron="* * * * *", ref="x", enabled=False
    )
    now = timezone.now()
    Schedule.objects.filter(pk=due.pk).update(next_run_at=now - timedelta(minutes=5))
    assert run_due_schedules(now=now) == 1
    assert list(Scan.objects.values_list("ref", flat=True)) == ["main"]
    later.refresh_from_db()
    off.refresh_from_db()
    assert later.last_outcome == "" and off.last_outcome == "" and off.next_run_at is None
    # a missed time runs once: the next is in the future
    due.refresh_from_db()
    assert due.next_run_at is not None and due.next_run_at > now
    assert run_due_schedules(now=now) == 0


@pytest.mark.django_db
def test_a_disabled_or_deleted_schedule_does_not_run_when_beat_sends_it(
    tenant, schedule, project
) -> None:
    Schedule.objects.filter(pk=schedule.pk).update(enabled=False)
    assert schedule_run(schedule_id=schedule.pk) is None
    schedule_id = schedule.pk
    schedule.delete()
    run_schedule(str(schedule_id))
    assert not Scan.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_start_one_scan(tenant, project, monkeypatch) -> None:
    # given: two schedules of the same ref, both due (and nothing to run their scans)
    monkeypatch.setattr(scan_services, "get_executor", NoExecutor)
    schedules = [
        schedule_create(user=tenant.user, project=project, kind="cron", cron=cron)
        for cron in ("* * * * *", "*/5 * * * *")
    ]
    gate = threading.Barrier(2)

    def run(schedule: Schedule) -> None:
        try:
            gate.wait()
            schedule_run(schedule_id=schedule.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(schedule,)) for schedule in schedules]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # then: one scan; the other run says why it started none
    assert Scan.objects.filter(project=project, ref="main").count() == 1
    outcomes = sorted(Schedule.objects.values_list("last_outcome", flat=True))
    assert outcomes == ["skipped", "started"]


class NoExecutor:
    """Scans wait; nothing runs them (the test looks at their creation only)."""

    def submit(self, scan_id: Any) -> None:
        return None

    def cancel(self, scan_id: Any) -> None:
        return None

    def shutdown(self, wait: bool = True) -> None:
        return None
