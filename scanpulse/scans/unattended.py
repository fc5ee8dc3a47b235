"""Scans nobody asked for at that moment: started by a schedule, attributed to it, never
beside a scan of the same ref that is still queued or running."""

from __future__ import annotations

from django.db import transaction

from scanpulse.core.exceptions import Conflict, Invalid
from scanpulse.projects.models import Project
from scanpulse.projects.validation import validate_ref

from .log import append_event
from .models import Scan, ScanStatus
from .services import WAITING_STEP, _check_queue_quota, scan_enqueue


def scan_create_unattended(*, project: Project, ref: str, started_by: str) -> Scan:
    """Queue a scan of ``ref`` that no user requested; ``started_by`` says what started it
    ("schedule …"), in its first event and a log line ("Started by schedule …"). Refused with ``Conflict`` while a scan of the project's
    ``ref`` is queued or running, and with ``QuotaExceeded`` when the organization's queue is
    full (``SCANPULSE_MAX_PENDING_SCANS_PER_ORG``), as a user's scan would be.

    The check and the creation are one transaction under the project's row lock (on SQLite,
    writing transactions run one at a time): two runs at once start one scan.
    """
    try:
        validate_ref(ref)
    except ValueError as exc:
        raise Invalid(str(exc), fields={"ref": [str(exc)]}) from exc
    with transaction.atomic():
        Project.objects.select_for_update(no_key=True).only("id").get(pk=project.pk)
        active = Scan.objects.filter(
            project_id=project.pk, ref=ref, status__in=[ScanStatus.PENDING, ScanStatus.RUNNING]
        ).exists()
        if active:
            raise Conflict(
                f"A scan of {ref} is already queued or running.", code="scan_in_progress"
            )
        _check_queue_quota(organization_id=project.organization_id)
        scan = Scan.objects.create(
            project=project, organization_id=project.organization_id, ref=ref, requested_by=None
        )
        append_event(
            scan_id=scan.id,
            kind="status",
            data={
                "status": ScanStatus.PENDING,
                "ref": ref,
                "requested_by": started_by,
                "step": WAITING_STEP,
            },
            snapshot={"step": WAITING_STEP},
        )
        # What the scan's page and the command line show in its log.
        append_event(
            scan_id=scan.id,
            kind="log",
            data={"level": "info", "message": f"Started by {started_by}."},
        )
        scan_enqueue(scan=scan)
    scan.refresh_from_db()
    return scan
