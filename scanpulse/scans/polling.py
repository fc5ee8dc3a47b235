"""What the two polling routes answer, in one place for the API view and the ASGI edge
(``scanpulse.events.polling``): the snapshot with its validator, and a page of events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .log import scan_replay
from .models import TERMINAL_STATUSES, Scan
from .resume import LogHead, Resume, resume_decision
from .snapshot import snapshot_payload


def status_etag(scan_id: Any, last_event_seq: int) -> str:
    """Every change of the snapshot is an event: the newest event number is a complete
    validator."""
    return f'"{scan_id}-{last_event_seq}"'


def events_page(scan: Scan, after: int, limit: int) -> dict[str, Any]:
    """The events after ``after`` (at most ``limit``), numbered as over SSE, with where the log
    stands; a reset with the snapshot when the cursor is outside the log."""
    body: dict[str, Any] = {
        "events": [],
        "last_event_id": scan.last_event_seq,
        "status": scan.status,
        "terminal": scan.is_terminal,
        "reset": False,
        "snapshot": None,
    }
    resume = resume_decision(cursor=after, head=LogHead.of(scan))
    if resume is Resume.RESET:
        body["reset"] = True
        body["snapshot"] = snapshot_payload(scan)
        return body
    if resume is Resume.DONE:
        return body  # nothing after the terminal event
    replay = scan_replay(scan.id, after, limit)
    body["events"] = [event.client_payload() for event in replay.events]
    return body


def caught_up_page(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``events_page`` for a cursor at the newest event, from the snapshot at that event."""
    return {
        "events": [],
        "last_event_id": snapshot["last_event_id"],
        "status": snapshot["status"],
        "terminal": snapshot["status"] in TERMINAL_STATUSES,
        "reset": False,
        "snapshot": None,
    }


@dataclass(frozen=True, slots=True)
class PollRead:
    """A scan as one read of its row found it: its organization and its snapshot (whose
    ``last_event_id`` is the row's), and the page asked for, if any."""

    org_id: str
    snapshot: dict[str, Any]
    page: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.snapshot["status"] in TERMINAL_STATUSES


def poll_read(scan_id: Any, page: tuple[int, int] | None = None) -> PollRead | None:
    """One scan's row (None: no such scan), and the page ``(after, limit)`` from it."""
    scan = Scan.objects.filter(pk=scan_id).first()
    if scan is None:
        return None
    body = events_page(scan, *page) if page is not None else None
    return PollRead(str(scan.organization_id), snapshot_payload(scan), body)
