"""Reads the pages need on top of the domain selectors, with the same scoping."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from django.db.models import QuerySet

from scanpulse.events.selectors import scan_replay
from scanpulse.scans.models import TERMINAL_STATUSES, Scan, ScanStatus
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
    of one event number and its stream resumes from there without a gap or a repeat."""
    lines: deque[LogLine] = deque(maxlen=LOG_LINES_SHOWN)
    seen = 0
    after = 0
    while after < scan.last_event_seq:
        replay = scan_replay(scan.id, after)
        if replay.purged:
            return ScanLog(lines=[], omitted=0, purged=True)
        if not replay.events:
            break
        for event in replay.events:
            if event.seq > scan.last_event_seq:
                break
            if event.kind in LOG_KINDS:
                seen += 1
                lines.append(
                    LogLine(
                        seq=event.seq,
                        time=event.time,
                        level=str(event.data.get("level", "warning")),
                        message=str(event.data.get("message", "")),
                    )
                )
        after = replay.events[-1].seq
    return ScanLog(lines=list(lines), omitted=seen - len(lines), purged=False)
