"""The scan snapshot: a scan's current state as every client sees it.

One definition for the API (``GET /api/scans/{id}/status``, the ``snapshot`` of an events
page), the streams' ``snapshot`` events, the pages and the log that keeps it in step with the
events: the scan fields below, plus the scan's id (``scan``) and the number of the newest event
(``last_event_id``), read from the same row so that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from .models import Scan, ScanStatus
from .resume import org_head

# The scan's fields in the snapshot, in the order of its JSON.
SNAPSHOT_FIELDS = (
    "status",
    "commit_sha",
    "progress",
    "step",
    "findings_count",
    "error_message",
    "started_at",
    "finished_at",
    "summary",
    "gate",
)

# The scan fields an event may change, in the same transaction (``log.append_event``): the
# snapshot, and the attempt's bookkeeping, which clients do not see.
EVENT_FIELDS = frozenset(SNAPSHOT_FIELDS) | {"attempt", "heartbeat_at"}

# Active scans an organization's snapshot lists at most (newest first).
ORG_SNAPSHOT_SCANS = 200


def snapshot_payload(scan: Scan) -> dict[str, Any]:
    payload: dict[str, Any] = {"scan": str(scan.id)}
    for name in SNAPSHOT_FIELDS:
        value = getattr(scan, name)
        payload[name] = value.isoformat() if isinstance(value, datetime) else value
    payload["last_event_id"] = scan.last_event_seq
    return payload


def scan_snapshot(scan_id: Any) -> dict[str, Any] | None:
    """The scan's current state; ``last_event_id`` is consistent with it (same row)."""
    scan = Scan.objects.filter(pk=scan_id).first()
    return snapshot_payload(scan) if scan is not None else None


def org_snapshot(org_id: Any) -> tuple[int, dict[str, Any]]:
    """The organization's head number and the state of its active and latest scans.

    The head is read first: any event after it is delivered live, and the state read later
    can only be newer, so nothing is missed (state fields may be seen twice, harmlessly).
    """
    head = org_head(org_id)
    last_seq = head.last_seq if head is not None else 0
    active = Q(status__in=[ScanStatus.PENDING, ScanStatus.RUNNING])
    scans = list(
        Scan.objects.filter(Q(organization_id=org_id) & active).order_by("-created_at")[
            :ORG_SNAPSHOT_SCANS
        ]
    )
    return last_seq, {"org_seq": last_seq, "scans": [snapshot_payload(scan) for scan in scans]}
