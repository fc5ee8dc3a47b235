"""Reads of the event log and scan snapshots for the stream and polling endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from scanpulse.scans.models import TERMINAL_STATUSES, Scan, ScanStatus
from scanpulse.tenancy.models import Organization

from .log import read_events, read_org_events
from .types import Event

REPLAY_BATCH = 500


@dataclass(frozen=True, slots=True)
class ScanHead:
    org_id: str
    last_seq: int
    terminal: bool
    purged: bool


def scan_head(scan_id: Any) -> ScanHead | None:
    row = (
        Scan.objects.filter(pk=scan_id)
        .values_list("organization_id", "last_event_seq", "status", "events_purged_at")
        .first()
    )
    if row is None:
        return None
    org_id, last_seq, status, purged_at = row
    return ScanHead(str(org_id), last_seq, status in TERMINAL_STATUSES, purged_at is not None)


def scan_snapshot_payload(scan: Scan) -> dict[str, Any]:
    return {
        "scan": str(scan.id),
        "status": scan.status,
        "commit_sha": scan.commit_sha,
        "progress": scan.progress,
        "step": scan.step,
        "findings_count": scan.findings_count,
        "error_message": scan.error_message,
        "started_at": scan.started_at.isoformat() if scan.started_at else None,
        "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
        "summary": scan.summary,
        "last_event_id": scan.last_event_seq,
    }


def scan_snapshot(scan_id: Any) -> dict[str, Any] | None:
    """The scan's current state; ``last_event_id`` is consistent with it (same row)."""
    scan = Scan.objects.filter(pk=scan_id).first()
    return scan_snapshot_payload(scan) if scan is not None else None


@dataclass(frozen=True, slots=True)
class ScanReplay:
    events: list[Event]
    purged: bool


def scan_replay(scan_id: Any, after: int, limit: int = REPLAY_BATCH) -> ScanReplay:
    events = read_events(scan_id=scan_id, after=after, limit=limit)
    if events:
        return ScanReplay(events, purged=False)
    head = scan_head(scan_id)
    purged = head is not None and head.purged and after < head.last_seq
    return ScanReplay([], purged=purged)


def org_head(org_id: Any) -> tuple[int, int] | None:
    """``(last_event_seq, events_purged_through)`` of the organization."""
    row = (
        Organization.objects.filter(pk=org_id)
        .values_list("last_event_seq", "events_purged_through")
        .first()
    )
    return (row[0], row[1]) if row is not None else None


def org_replay(org_id: Any, after: int) -> ScanReplay:
    head = org_head(org_id)
    if head is not None and after < head[1]:
        return ScanReplay([], purged=True)
    return ScanReplay(read_org_events(org_id=org_id, after=after, limit=REPLAY_BATCH), False)


def org_snapshot(org_id: Any) -> tuple[int, dict[str, Any]]:
    """The organization's head number and the state of its active and latest scans.

    The head is read first: any event after it is delivered live, and the state read later
    can only be newer, so nothing is missed (state fields may be seen twice, harmlessly).
    """
    head = org_head(org_id)
    last_seq = head[0] if head is not None else 0
    active = Q(status__in=[ScanStatus.PENDING, ScanStatus.RUNNING])
    scans = list(
        Scan.objects.filter(Q(organization_id=org_id) & active).order_by("-created_at")[:200]
    )
    return last_seq, {"org_seq": last_seq, "scans": [scan_snapshot_payload(scan) for scan in scans]}
