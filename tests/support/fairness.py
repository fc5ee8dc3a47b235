"""What fair scheduling promises, checked on the scans as the API lists them: a scan queued
while another organization's scans hold every worker slot starts in the next slot that
frees — no scan of that organization queued before it overtakes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Wait:
    waited: float  # seconds from queued to started
    after_first_free_slot: float  # seconds from the first slot that freed to started
    queued_ahead: int  # the other organization's scans queued before it and not yet started
    scan_seconds: float  # the longest of the other organization's finished scans

    def __str__(self) -> str:
        return (
            f"started {self.waited:.1f} s after it was queued, {self.after_first_free_slot:.2f} s "
            f"after the first slot freed; {self.queued_ahead} scans of the other organization "
            f"were queued before it (a first-in-first-out queue would have run them first), "
            f"each taking up to {self.scan_seconds:.1f} s"
        )


def assert_started_in_the_first_free_slot(
    scan: dict[str, Any], others: list[dict[str, Any]], *, queued: datetime, slack: float
) -> Wait:
    """``scan`` was queued while ``others`` (another organization's) held every slot; its
    creation had committed at ``queued`` (when the API answered 201). It must start within
    ``slack`` seconds of the first of the others ending (the hand-over of a free slot), and
    none of the others may start before it."""
    started = moment(scan["started_at"])
    holding = [
        other
        for other in others
        if other["started_at"]
        and moment(other["started_at"]) <= queued
        and (other["finished_at"] is None or moment(other["finished_at"]) > queued)
    ]
    assert holding, "no scan of the other organization was running when this one was queued"
    freed = [moment(other["finished_at"]) for other in holding if other["finished_at"]]
    assert freed, "it started although no slot freed"
    first_free = min(freed)
    overtaking = [
        (other["id"], other["started_at"])
        for other in others
        if other["started_at"]
        and queued < moment(other["started_at"]) < started - timedelta(seconds=slack)
    ]
    assert overtaking == [], (scan["started_at"], overtaking)
    assert started <= first_free + timedelta(seconds=slack), (scan, first_free)
    ahead = [
        other
        for other in others
        if moment(other["created_at"]) < queued
        and (other["started_at"] is None or moment(other["started_at"]) > queued)
    ]
    durations = [
        (moment(other["finished_at"]) - moment(other["started_at"])).total_seconds()
        for other in others
        if other["started_at"] and other["finished_at"]
    ]
    return Wait(
        waited=(started - moment(scan["created_at"])).total_seconds(),
        after_first_free_slot=(started - first_free).total_seconds(),
        queued_ahead=len(ahead),
        scan_seconds=max(durations),
    )
