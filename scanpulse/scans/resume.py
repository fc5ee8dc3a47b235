"""Resume positions ("cursors") as clients send them, and what a position in a log allows.

The stream endpoints (``Last-Event-ID``, ``?last_event_id=``), the polling endpoint
(``?after=``) and the scan page read cursors here and decide here, with ``resume_decision``,
between replaying, resetting and stopping, so that a client may switch between them at any
event and be answered the same way.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from scanpulse.tenancy.models import Organization

from .models import TERMINAL_STATUSES, Scan

MAX_CURSOR = 2**62
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²" or "٣", int() not all


class InvalidCursor(ValueError):
    pass


def parse_cursor(raw: str) -> int:
    """An event number: ASCII decimal digits, at most ``MAX_CURSOR``; anything else is refused."""
    if not _DIGITS.fullmatch(raw):
        raise InvalidCursor(raw)
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(MAX_CURSOR)) or int(digits) > MAX_CURSOR:
        raise InvalidCursor(raw)
    return int(digits)


class Resume(enum.Enum):
    """What a cursor into a log allows."""

    REPLAY = "replay"  # the events after it are in the log (maybe none yet)
    RESET = "reset"  # not a position of this log: its events are gone, or it never had them
    DONE = "done"  # it covers the terminal event: nothing will ever follow (HTTP 204)


@dataclass(frozen=True, slots=True)
class LogHead:
    """Where a log stands: its newest number, the numbers up to ``purged_through`` that left
    it (retention), and whether its newest event ends it.

    A scan's log is 1..``last_seq``, purged all at once, and a finished scan's ends with its
    terminal event. An organization's log has no end."""

    last_seq: int
    purged_through: int = 0
    terminal: bool = False

    @classmethod
    def of_scan(cls, *, last_seq: int, terminal: bool, purged: bool) -> LogHead:
        return cls(last_seq, last_seq if purged else 0, terminal)

    @classmethod
    def of(cls, scan: Scan) -> LogHead:
        """The head of a scan as loaded (its row holds the head)."""
        return cls.of_scan(
            last_seq=scan.last_event_seq,
            terminal=scan.is_terminal,
            purged=scan.events_purged_at is not None,
        )


def resume_decision(*, cursor: int, head: LogHead) -> Resume:
    """What a client at ``cursor`` gets from a log at ``head``.

    A cursor beyond ``last_seq`` was never handed out (numbers are committed before anyone
    sees them): the client gets the current state rather than a silent wait for numbers that
    may mean other events, or nothing at all. So does one whose next events left the log.
    """
    if cursor > head.last_seq or cursor < head.purged_through:
        return Resume.RESET
    if head.terminal and cursor == head.last_seq:
        return Resume.DONE
    return Resume.REPLAY


@dataclass(frozen=True, slots=True)
class ScanHead:
    org_id: str
    log: LogHead


def scan_head(scan_id: Any) -> ScanHead | None:
    row = (
        Scan.objects.filter(pk=scan_id)
        .values_list("organization_id", "last_event_seq", "status", "events_purged_at")
        .first()
    )
    if row is None:
        return None
    org_id, last_seq, status, purged_at = row
    log = LogHead.of_scan(
        last_seq=last_seq, terminal=status in TERMINAL_STATUSES, purged=purged_at is not None
    )
    return ScanHead(str(org_id), log)


def org_head(org_id: Any) -> LogHead | None:
    row = (
        Organization.objects.filter(pk=org_id)
        .values_list("last_event_seq", "events_purged_through")
        .first()
    )
    return LogHead(row[0], row[1]) if row is not None else None
