"""Reads the pages need on top of the domain selectors, with the same scoping."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from scanpulse.scans.log import read_latest_events
from scanpulse.scans.models import TERMINAL_STATUSES, Scan, ScanStatus
from scanpulse.scans.resume import LogHead, Resume, resume_decision, scan_head
from scanpulse.scans.selectors import scan_list
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.types import User

# A page shows the newest lines of a long log; the stream appends to them.
LOG_LINES_SHOWN = 1000
LOG_KINDS = frozenset({"log", "attempt"})


def active_scans(*, user: User, organization: Organization) -> QuerySet[Scan]:
    """Pending and running scans of one organization, oldest first (the order they run in)."""
    return (
        scan_list(user=user)
        .filter(organization=organization, status__in=[ScanStatus.PENDING, ScanStatus.RUNNING])
        .order_by("created_at")
    )


def finished_scans(*, user: User, organization: Organization, limit: int = 10) -> list[Scan]:
    """The organization's latest finished scans, newest first."""
    return list(
        scan_list(user=user).filter(organization=organization, status__in=TERMINAL_STATUSES)[:limit]
    )


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    time: str
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class ScanLog:
    lines: list[LogLine]
    omitted: int  # older lines not shown
    purged: bool  # the events are gone (retention): nothing to show


def scan_log(*, scan: Scan) -> ScanLog:
    """The scan's log lines up to ``scan.last_event_seq`` exactly, so a page renders the state
    of one event number and its stream resumes from there without a gap or a repeat. Only the
    lines shown are read."""
    if resume_decision(cursor=0, head=LogHead.of(scan)) is Resume.RESET:
        return ScanLog(lines=[], omitted=0, purged=True)
    events, total = read_latest_events(
        scan_id=scan.id, through=scan.last_event_seq, kinds=LOG_KINDS, limit=LOG_LINES_SHOWN
    )
    if not events and scan.last_event_seq > 0:
        # Nothing to show, or the log left since the scan was read: its head tells.
        head = scan_head(scan.id)
        if head is not None and resume_decision(cursor=0, head=head.log) is Resume.RESET:
            return ScanLog(lines=[], omitted=0, purged=True)
    lines = [
        LogLine(
            seq=event.seq,
            time=event.time,
            level=str(event.data.get("level", "warning")),
            message=str(event.data.get("message", "")),
        )
        for event in events
    ]
    return ScanLog(lines=lines, omitted=total - len(lines), purged=False)
