"""Resume positions ("cursors") as clients send them, and what a position in a log allows.

The stream endpoints (``Last-Event-ID``, ``?last_event_id=``) and the polling endpoint
(``?after=``) read cursors here and decide here between replaying, resetting and stopping, so
that a client may switch between them at any event and be answered the same way.
"""

from __future__ import annotations

import enum
import re

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
    DONE = "done"  # it covers the terminal event: nothing will ever follow


def scan_resume(*, cursor: int, last_seq: int, terminal: bool, purged: bool) -> Resume:
    """A scan's log is 1..``last_seq``; a finished scan's ends with its terminal event.

    A cursor beyond ``last_seq`` was never handed out (numbers are committed before anyone
    sees them): the client gets the current state rather than a silent wait for numbers that
    may mean other events, or nothing at all.
    """
    if cursor > last_seq or (purged and cursor < last_seq):
        return Resume.RESET
    if terminal and cursor == last_seq:
        return Resume.DONE
    return Resume.REPLAY


def org_resume(*, cursor: int, last_seq: int, purged_through: int) -> Resume:
    """An organization's log has no end; numbers up to ``purged_through`` left it."""
    if cursor > last_seq or cursor < purged_through:
        return Resume.RESET
    return Resume.REPLAY
