"""Writes for schedules: creating, changing and deleting them (owners and admins), keeping
their django-celery-beat periodic tasks in step, and running one when it is due.

A run is the same in both shapes: production's ``celery beat`` sends the task
``scanpulse.schedules.run_schedule`` (``.tasks``) at the due times, the embedded server's
thread (``.runner``) calls ``schedule_run`` for the schedules whose ``next_run_at`` has come;
both compute due times with the same rules (``.timing``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Conflict, Invalid, QuotaExceeded
from scanpulse.projects.models import Project
from scanpulse.projects.validation import validate_ref
from scanpulse.scans.unattended import scan_create_unattended
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from . import timing
from .models import IntervalPeriod, RunOutcome, Schedule, ScheduleKind

logger = logging.getLogger(__name__)

# The Celery task ``celery beat`` sends for a schedule, by name (``.tasks`` defines it).
RUN_SCHEDULE_TASK = "scanpulse.schedules.run_schedule"
# What a schedule may change; ``kind`` decides which of cron / every+period apply.
FIELDS = ("ref", "kind", "cron", "every", "period", "timezone", "enabled")
TIMING_FIELDS = ("kind", "cron", "every", "period", "timezone", "enabled")


def _normalized(values: dict[str, Any], *, default_ref: str) -> dict[str, Any]:
    """Checked and completed fields of a schedule, or ``Invalid`` naming the field at fault."""
    ref = values.get("ref") or default_ref
    try:
        validate_ref(ref)
    except ValueError as exc:
        raise Invalid(str(exc), fields={"ref": [str(exc)]}) from exc
    kind = values.get("kind")
    if kind not in ScheduleKind.values:
        message = "The kind is cron or interval."
        raise Invalid(message, fields={"kind": [message]})
    zone_name = values.get("timezone") or "UTC"
    zone = timing.parse_zone(zone_name)
    result: dict[str, Any] = {
        "ref": ref,
        "kind": kind,
        "timezone": zone_name,
        "enabled": bool(values.get("enabled", True)),
        "cron": "",
        "every": None,
        "period": "",
    }
    if kind == ScheduleKind.CRON:
        expression = " ".join((values.get("cron") or "").split())
        if not expression:
            message = "A cron schedule needs a cron expression, e.g. '0 3 * * *'."
            raise Invalid(message, fields={"cron": [message]})
        timing.crontab(expression, zone)
        result["cron"] = expression
    else:
        every, period = values.get("every"), values.get("period") or IntervalPeriod.HOURS
        if every is None:
            message = "An interval schedule needs every (a whole number of its period)."
            raise Invalid(message, fields={"every": [message]})
        timing.interval(int(every), period)
        result |= {"every": int(every), "period": period}
    return result


def next_run(schedule: Schedule, after: datetime) -> datetime | None:
    """When ``schedule`` runs next after ``after`` (None while disabled)."""
    if not schedule.enabled:
        return None
    if schedule.kind == ScheduleKind.CRON:
        zone = timing.parse_zone(schedule.timezone)
        return timing.cron_next(timing.crontab(schedule.cron, zone), after)
    assert schedule.every is not None
    return timing.interval_next(schedule.every, schedule.period, after)


def schedule_create(*, user: User, project: Project, **values: Any) -> Schedule:
    require_member(
        user=user, organization_id=project.organization_id, action=Action.SCHEDULE_MANAGE
    )
    fields = _normalized(values, default_ref=project.default_branch)
    with transaction.atomic():
        schedule = Schedule(project=project, created_by=user, **fields)
        schedule.next_run_at = next_run(schedule, timezone.now())
        schedule.save()
        _sync_periodic_task(schedule)
        _audit(user, schedule, "create")
    return schedule


def _audit(user: User, schedule: Schedule, change: str) -> None:
    record(
        action=AuditAction.SCHEDULE_CHANGE,
        actor=user,
        organization_id=schedule.project.organization_id,
        target_type="schedule",
        target_id=schedule.pk,
        target=f"{schedule.project.name} @ {schedule.ref}",
        details={"change": change, "project": str(schedule.project_id)},
    )


def schedule_update(*, user: User, schedule: Schedule, changes: dict[str, Any]) -> Schedule:
    require_member(
        user=user, organization_id=schedule.project.organization_id, action=Action.SCHEDULE_MANAGE
    )
    current = {name: getattr(schedule, name) for name in FIELDS}
    fields = _normalized(current | changes, default_ref=schedule.project.default_branch)
    retimed = any(fields[name] != current[name] for name in TIMING_FIELDS)
    with transaction.atomic():
        for name, value in fields.items():
            setattr(schedule, name, value)
        if retimed:
            schedule.next_run_at = next_run(schedule, timezone.now())
        schedule.save()
        _sync_periodic_task(schedule, retimed=retimed)
        _audit(user, schedule, "update")
    return schedule


def schedule_delete(*, user: User, schedule: Schedule) -> None:
    require_member(
        user=user, organization_id=schedule.project.organization_id, action=Action.SCHEDULE_MANAGE
    )
    with transaction.atomic():
        _audit(user, schedule, "delete")
        schedule.delete()  # its periodic task goes too (.signals)


def _sync_periodic_task(schedule: Schedule, *, retimed: bool = True) -> None:
    """Make the schedule's periodic task say what the schedule says (in the same
    transaction). ``retimed``: its due times count again from now, as the embedded mode's."""
    task = schedule.periodic_task or PeriodicTask(name=f"scanpulse schedule {schedule.id}")
    previous = (task.crontab_id, task.interval_id)
    if schedule.kind == ScheduleKind.CRON:
        fields = timing.split_cron(schedule.cron)
        crontab = CrontabSchedule.objects.filter(
            **fields, timezone=schedule.timezone
        ).first() or CrontabSchedule.objects.create(**fields, timezone=schedule.timezone)
        task.crontab, task.interval = crontab, None
    else:
        assert schedule.every is not None
        every = IntervalSchedule.objects.filter(
            every=schedule.every, period=schedule.period
        ).first() or IntervalSchedule.objects.create(every=schedule.every, period=schedule.period)
        task.interval, task.crontab = every, None
    task.task = RUN_SCHEDULE_TASK
    task.args = json.dumps([str(schedule.id)])
    task.kwargs = "{}"
    task.enabled = schedule.enabled
    task.description = f"{schedule.project.name} @ {schedule.ref}: {schedule.describe()}"
    if retimed:
        task.last_run_at = None  # beat counts from the change (date_changed)
    task.save()
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        Schedule.objects.filter(pk=schedule.pk).update(periodic_task=task)
    _remove_unused_timings(*previous)


def remove_periodic_task(periodic_task_id: int | None) -> None:
    if periodic_task_id is None:
        return
    task = PeriodicTask.objects.filter(pk=periodic_task_id).first()
    if task is None:
        return
    timings = (task.crontab_id, task.interval_id)
    task.delete()
    _remove_unused_timings(*timings)


def _remove_unused_timings(crontab_id: int | None, interval_id: int | None) -> None:
    if crontab_id is not None and not PeriodicTask.objects.filter(crontab_id=crontab_id).exists():
        CrontabSchedule.objects.filter(pk=crontab_id).delete()
    if (
        interval_id is not None
        and not PeriodicTask.objects.filter(interval_id=interval_id).exists()
    ):
        IntervalSchedule.objects.filter(pk=interval_id).delete()


def schedule_run(
    *, schedule_id: UUID | str, only_if_due: bool = False, now: datetime | None = None
) -> Schedule | None:
    """Run the schedule now: start a scan of its ref, or record why not — a scan of the ref
    is already queued or running (skipped), the organization's queue is full (refused).
    The outcome and the next due time are saved with the schedule. None when the schedule is
    gone or disabled, or (``only_if_due``, the embedded thread) not due yet."""
    now = now or timezone.now()
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(pk=schedule_id).first()
        if schedule is None or not schedule.enabled:
            return None
        if only_if_due and (schedule.next_run_at is None or schedule.next_run_at > now):
            return None
        project = Project.objects.get(pk=schedule.project_id)
        schedule.last_run_at = now
        schedule.next_run_at = next_run(schedule, now)
        schedule.last_scan = None
        try:
            with transaction.atomic():
                scan = scan_create_unattended(
                    project=project,
                    ref=schedule.ref,
                    started_by=f"schedule {schedule.describe()}",
                )
        except Conflict:
            schedule.last_outcome = RunOutcome.SKIPPED
            schedule.last_message = (
                f"skipped: a scan of {schedule.ref} is already queued or running"
            )
        except (QuotaExceeded, Invalid) as refusal:
            schedule.last_outcome = RunOutcome.REFUSED
            schedule.last_message = f"refused: {refusal.message}"[:500]
        else:
            schedule.last_outcome = RunOutcome.STARTED
            schedule.last_message = f"started scan {scan.id}"
            schedule.last_scan = scan
        schedule.save(
            update_fields=[
                "last_run_at",
                "next_run_at",
                "last_outcome",
                "last_message",
                "last_scan",
            ]
        )
    log = logger.warning if schedule.last_outcome == RunOutcome.REFUSED else logger.info
    log("schedule %s of project %s: %s", schedule.id, project.id, schedule.last_message)
    return schedule


def run_due_schedules(*, now: datetime | None = None) -> int:
    """Run every enabled schedule whose time has come (the embedded server's thread); how
    many ran. A time missed while the server was down runs once, at its next start."""
    now = now or timezone.now()
    due = Schedule.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")
    ran = 0
    for schedule_id in list(due.values_list("id", flat=True)):
        if schedule_run(schedule_id=schedule_id, only_if_due=True, now=now) is not None:
            ran += 1
    return ran
