"""The one rule for a client's cursor into a log: replay, reset or nothing more (204)."""

from __future__ import annotations

import pytest

from scanpulse.scans.resume import LogHead, Resume, resume_decision

RUNNING = LogHead.of_scan(last_seq=5, terminal=False, purged=False)
FINISHED = LogHead.of_scan(last_seq=5, terminal=True, purged=False)
PURGED = LogHead.of_scan(last_seq=5, terminal=True, purged=True)
ORG = LogHead(last_seq=9, purged_through=4)


@pytest.mark.parametrize(
    ("cursor", "head", "expected"),
    [
        (0, RUNNING, Resume.REPLAY),
        (5, RUNNING, Resume.REPLAY),  # waits for the next event
        (6, RUNNING, Resume.RESET),  # never handed out
        (4, FINISHED, Resume.REPLAY),
        (5, FINISHED, Resume.DONE),
        (6, FINISHED, Resume.RESET),
        (4, PURGED, Resume.RESET),  # the events after it are gone
        (5, PURGED, Resume.DONE),
        (3, ORG, Resume.RESET),
        (4, ORG, Resume.REPLAY),
        (9, ORG, Resume.REPLAY),  # an organization's log has no end
        (10, ORG, Resume.RESET),
    ],
)
def test_what_a_cursor_allows(cursor: int, head: LogHead, expected: Resume) -> None:
    assert resume_decision(cursor=cursor, head=head) is expected
