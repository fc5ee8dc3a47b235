"""Writes for scans: creation, cancellation, and the status transitions of a run (its start,
and which waiting scan a free worker runs next, are in ``claims``).

Every status change is an event in the scan's log (appended in the same transaction as the
change), so streams, polling and the scan row always agree.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scanpulse.core.exceptions import Invalid, QuotaExceeded
from scanpulse.projects.models import Project
from scanpulse.projects.validation import validate_ref
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .executor import get_executor
from .gate import not_completed_verdict
from .log import append_event
from .models import TERMINAL_STATUSES, Scan, ScanStatus, ScanTrigger
from .signals import scan_finished

logger = logging.getLogger(__name__)

# What a scan says while it waits for a worker (its step, until a worker starts it).
WAITING_STEP = "Queued: waiting for a free worker"
# Scans waiting for a worker: queued ones, and running ones whose worker was given up
# (housekeeping cleared their heartbeat), which wait for their next attempt.
WAITING_FOR_A_WORKER = Q(status=ScanStatus.PENDING) | Q(
    status=ScanStatus.RUNNING, heartbeat_at__isnull=True
)
# When a client refused for a full queue should ask again: scans of the organization have
# to start first, which takes about as long as a small scan.
QUEUE_FULL_RETRY_AFTER_SECONDS = 30


def display_name(user: User) -> str:
    return getattr(user, "email", "") or getattr(user, "username", "") or "someone"


def scan_create(
    *, user: User, project: Project, ref: str | None = None, base_ref: str | None = None
) -> Scan:
    """A scan of ``ref`` (default: the project's default branch) requested by ``user``;
    with ``base_ref``, its findings are compared with that branch's latest completed scan
    (what a pull request's scan does)."""
    require_member(user=user, organization_id=project.organization_id, action=Action.SCAN_CREATE)
    ref = _checked_ref(ref or project.default_branch, field="ref")
    base = _checked_ref(base_ref, field="base_ref") if base_ref else ""
    with transaction.atomic():
        _check_queue_quota(organization_id=project.organization_id)
        scan = _create_locked(project=project, ref=ref, base_ref=base, requested_by=user)
    scan.refresh_from_db()
    return scan


def scan_create_for_hook(
    *,
    project: Project,
    ref: str,
    commit: str,
    started_by: str,
    trigger: str,
    base_ref: str = "",
    pull_request: dict[str, Any] | None = None,
) -> tuple[Scan, bool]:
    """A scan of ``commit`` of ``ref`` that a repository host's webhook asked for (verified by
    its signature: no user, no role), and whether it was created: a scan of the same commit
    of the same ref already waiting, running or completed is returned instead, so a delivery
    sent twice, or a commit pushed and then opened as a pull request from the same ref, runs
    once. Refused like any scan while the organization's queue is full (``QuotaExceeded``)."""
    ref = _checked_ref(ref, field="ref")
    base = _checked_ref(base_ref, field="base_ref") if base_ref else ""
    with transaction.atomic():
        # The queue's lock (the organization's row) makes two deliveries of one commit
        # check for each other one after the other.
        Organization.objects.select_for_update(no_key=True).filter(
            pk=project.organization_id
        ).values_list("pk").first()
        existing = (
            Scan.objects.filter(
                project=project,
                ref=ref,
                status__in=[ScanStatus.PENDING, ScanStatus.RUNNING, ScanStatus.COMPLETED],
            )
            .filter(Q(requested_commit=commit) | Q(commit_sha=commit))
            .order_by("-created_at")
            .first()
        )
        if existing is not None:
            return existing, False
        _check_queue_quota(organization_id=project.organization_id)
        scan = _create_locked(
            project=project,
            ref=ref,
            base_ref=base,
            requested_commit=commit,
            pull_request=pull_request,
            trigger=trigger,
            started_by=started_by,
        )
    scan.refresh_from_db()
    return scan, True


def _checked_ref(ref: str, *, field: str) -> str:
    try:
        return validate_ref(ref)
    except ValueError as exc:
        raise Invalid(str(exc), fields={field: [str(exc)]}) from exc


def _create_locked(
    *,
    project: Project,
    ref: str,
    base_ref: str = "",
    requested_by: User | None = None,
    requested_commit: str = "",
    pull_request: dict[str, Any] | None = None,
    trigger: str = ScanTrigger.USER,
    started_by: str = "",
) -> Scan:
    scan = Scan.objects.create(
        project=project,
        organization_id=project.organization_id,
        ref=ref,
        base_ref=base_ref,
        requested_by=requested_by,
        requested_commit=requested_commit,
        pull_request=pull_request,
        trigger=trigger,
        started_by=started_by,
    )
    data: dict[str, Any] = {
        "status": ScanStatus.PENDING,
        "ref": ref,
        "requested_by": display_name(requested_by) if requested_by is not None else started_by,
        "step": WAITING_STEP,
    }
    if requested_commit:
        data["commit"] = requested_commit
    if base_ref:
        data["base_ref"] = base_ref
    if pull_request:
        data["pull_request"] = pull_request
    append_event(scan_id=scan.id, kind="status", data=data, snapshot={"step": WAITING_STEP})
    scan_enqueue(scan=scan)
    return scan


def _check_queue_quota(*, organization_id: Any) -> None:
    """Refuse a new scan (429) while the organization has as many waiting as it may.

    The organization's row lock (the one its event numbers are allocated under) makes
    concurrent requests count one after the other, so none slips past the limit.
    """
    limit = settings.SCANPULSE_MAX_PENDING_SCANS_PER_ORG
    if limit <= 0:
        return
    organization = (
        Organization.objects.select_for_update(no_key=True).only("name").get(pk=organization_id)
    )
    waiting = Scan.objects.filter(
        organization_id=organization_id, status=ScanStatus.PENDING
    ).count()
    if waiting >= limit:
        raise QuotaExceeded(
            f"Organization {organization.name} already has {waiting} "
            f"scan{'' if waiting == 1 else 's'} waiting for a worker, the most it may queue "
            f"(limit {limit}). Try again once some have started, or cancel some.",
            code="queue_full",
            retry_after=QUEUE_FULL_RETRY_AFTER_SECONDS,
        )


def scan_enqueue(*, scan: Scan) -> None:
    """Ask for a worker slot for the scan once the surrounding transaction has committed
    (never before: the worker must find the row). The slot runs whichever waiting scan is
    fairest then (``scan_claim_next``); ``enqueued_at`` tells housekeeping when to ask again
    should the request be lost."""
    Scan.objects.filter(pk=scan.pk).update(enqueued_at=timezone.now())
    scan_id = scan.id
    transaction.on_commit(lambda: get_executor().submit(scan_id))


def scan_cancel(*, user: User, scan: Scan) -> Scan:
    """Cancel a pending or running scan; cancelling a finished scan changes nothing."""
    require_member(user=user, organization_id=scan.organization_id, action=Action.SCAN_CANCEL)
    who = display_name(user)
    with transaction.atomic():
        # FOR NO KEY UPDATE: a worker saving results holds key-share locks on the scan row
        # (the findings' foreign keys) until it commits; the request must not wait for that.
        locked = Scan.objects.select_for_update(no_key=True).get(pk=scan.pk)
        if locked.status in TERMINAL_STATUSES or locked.cancel_requested_at is not None:
            return locked
        locked.cancel_requested_at = timezone.now()
        locked.cancelled_by = user
        locked.save(update_fields=["cancel_requested_at", "cancelled_by"])
        if locked.status == ScanStatus.PENDING or locked.heartbeat_at is None:
            # Waiting for a worker (queued, or for a new attempt after its worker was given
            # up): nothing runs it, so the cancellation is final at once.
            finish_locked(
                locked,
                status=ScanStatus.CANCELLED,
                message=f"Scan cancelled by {who}.",
            )
        else:
            append_event(
                scan_id=locked.id,
                kind="log",
                data={"level": "warning", "message": f"Cancellation requested by {who}."},
            )
        scan_id = locked.id
        transaction.on_commit(lambda: get_executor().cancel(scan_id))
    locked.refresh_from_db()
    return locked


def scan_finish(
    *,
    scan_id: UUID | str,
    status: str,
    message: str = "",
    summary: dict[str, Any] | None = None,
    findings_count: int | None = None,
    attempt: int | None = None,
    unless_cancelled: bool = False,
    gate: dict[str, Any] | None = None,
) -> bool:
    """Record the terminal status and event, once. False if the scan had already ended
    (or, with ``attempt``, if a newer attempt owns it; with ``unless_cancelled``, if someone
    asked to cancel it meanwhile)."""
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None or scan.status in TERMINAL_STATUSES:
            return False
        if attempt is not None and scan.attempt != attempt:
            return False
        if unless_cancelled and scan.cancel_requested_at is not None:
            return False
        finish_locked(
            scan,
            status=status,
            message=message,
            summary=summary,
            findings_count=findings_count,
            gate=gate,
        )
    return True


def finish_locked(
    scan: Scan,
    *,
    status: str,
    message: str,
    summary: dict[str, Any] | None = None,
    findings_count: int | None = None,
    gate: dict[str, Any] | None = None,
) -> None:
    """The terminal status and event; the event and the snapshot carry the quality gate's
    verdict (``.gate``: a scan that did not complete fails it)."""
    assert status in TERMINAL_STATUSES
    now = timezone.now()
    snapshot: dict[str, Any] = {"status": status, "finished_at": now}
    data: dict[str, Any] = {"status": status, "message": message}
    if status == ScanStatus.COMPLETED:
        snapshot |= {"progress": 100, "step": "Done"}
    else:
        snapshot["error_message"] = message
    if summary is not None:
        snapshot["summary"] = summary
        data["summary"] = summary
    if findings_count is not None:
        snapshot["findings_count"] = findings_count
        data["findings_count"] = findings_count
    if gate is None and status != ScanStatus.COMPLETED:
        gate = not_completed_verdict(status)
    if gate is not None:
        snapshot["gate"] = gate
        data["gate"] = gate
    if scan.started_at is not None:
        data["duration_seconds"] = round((now - scan.started_at).total_seconds(), 3)
    append_event(scan_id=scan.id, kind=status, data=data, snapshot=snapshot)
    announce = {
        "scan_id": str(scan.id),
        "organization_id": str(scan.organization_id),
        "status": status,
        "gate": gate,
    }
    # Once the transaction commits, never before: a rollback (a save undone) announces nothing.
    transaction.on_commit(lambda: _announce_finished(announce))


def _announce_finished(announce: dict[str, Any]) -> None:
    for receiver, result in scan_finished.send_robust(sender=Scan, **announce):
        if isinstance(result, Exception):
            logger.error("a receiver of scan_finished failed: %r", receiver, exc_info=result)


def scan_reap(*, scan_id: UUID | str, stale_before: datetime, attempt_limit: int) -> bool:
    """Take a running scan from its worker, which stopped responding (no heartbeat since
    ``stale_before``): it waits for its next attempt, or fails after its last one. False if
    it is not stale (any more), or another process is reaping it."""
    with transaction.atomic():
        scan = (
            Scan.objects.select_for_update(skip_locked=True)
            .filter(pk=scan_id, status=ScanStatus.RUNNING, heartbeat_at__lt=stale_before)
            .first()
        )
        if scan is None:
            return False  # finished, revived, or claimed by another process meanwhile
        if scan.attempt >= attempt_limit:
            finish_locked(
                scan,
                status=ScanStatus.FAILED,
                message=(
                    f"The worker running this scan stopped responding, {scan.attempt} "
                    "times; the scan was given up."
                ),
            )
        else:
            append_event(
                scan_id=scan.id,
                kind="log",
                data={
                    "level": "warning",
                    "message": "The worker running this scan stopped responding; "
                    "the scan will start again on another worker.",
                },
                snapshot={"heartbeat_at": None, "step": WAITING_STEP},
            )
            scan_enqueue(scan=scan)
    return True


class Pulse(StrEnum):
    """What a running attempt learns from its heartbeat."""

    ALIVE = "alive"
    CANCELLED = "cancelled"  # someone asked it to stop
    SUPERSEDED = "superseded"  # no longer this attempt's to run: finished, or started again


def scan_heartbeat(*, scan_id: UUID | str, attempt: int | None = None) -> Pulse:
    """Mark the scan alive (only while ``attempt`` still owns it) and say whether to go on.

    An attempt whose heartbeats lapsed (a database outage, a frozen process) may have been
    given to another worker by housekeeping meanwhile; it must stop rather than run on beside
    the new attempt — and must not keep the scan looking alive should the new one die.
    """
    owned = Scan.objects.filter(pk=scan_id, status=ScanStatus.RUNNING)
    if attempt is not None:
        owned = owned.filter(attempt=attempt)
    if not owned.update(heartbeat_at=timezone.now()):
        return Pulse.SUPERSEDED
    if Scan.objects.filter(pk=scan_id, cancel_requested_at__isnull=False).exists():
        return Pulse.CANCELLED
    return Pulse.ALIVE


def scan_resume_orphans() -> int:
    """Queue again every scan left pending or running (embedded mode, after a restart).

    A running scan starts a new attempt; one that has used its attempts fails with a message.
    """
    executor = get_executor()
    orphans = Scan.objects.filter(status__in=[ScanStatus.PENDING, ScanStatus.RUNNING])
    # Nothing else runs scans in an embedded server: their heartbeats are from the last run.
    orphans.filter(status=ScanStatus.RUNNING).update(heartbeat_at=None)
    scan_ids = list(orphans.order_by("created_at").values_list("id", flat=True))
    for scan_id in scan_ids:
        executor.submit(scan_id)
    return len(scan_ids)
