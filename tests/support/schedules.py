"""The one-minute schedule both shapes are tested with (the embedded server's thread, and
celery beat with a worker): what a user sees through the API, and when."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

TERMINAL = ("completed", "failed", "cancelled")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def a_minute_schedule_starts_a_scan(
    client: httpx.Client, project_id: str, *, slack: float
) -> dict[str, Any]:
    """Create a ``* * * * *`` schedule and check that a scan attributed to it starts at the
    next minute (within ``slack`` seconds of it) and completes; the schedule is disabled
    afterwards. Returns the scan."""
    schedules = f"/api/projects/{project_id}/schedules/"
    created = client.post(
        schedules, json={"kind": "cron", "cron": "* * * * *", "timezone": "Europe/Berlin"}
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    due = moment(schedule["next_run_at"])
    assert timedelta(0) < due - datetime.now(UTC) <= timedelta(seconds=60), schedule
    assert due.second == 0 and moment(schedule["next_run_local"]) == due
    try:
        # the scan starts once the minute has come, not before, and within the slack
        deadline = due + timedelta(seconds=slack)
        while schedule["last_scan"] is None:
            assert datetime.now(UTC) < deadline, f"no scan {slack} s after the minute: {schedule}"
            time.sleep(0.5)
            schedule = client.get(f"{schedules}{schedule['id']}/").json()
        assert schedule["last_outcome"] == "started", schedule
        assert schedule["next_run_at"] == (due + timedelta(minutes=1)).isoformat().replace(
            "+00:00", "Z"
        )
        scan = client.get(f"/api/scans/{schedule['last_scan']}/").json()
        assert due <= moment(scan["created_at"]) <= deadline, (due, scan["created_at"])
        assert scan["requested_by"] is None
        events = client.get(f"/api/scans/{scan['id']}/events", params={"after": 0}).json()
        assert events["events"][0]["data"]["requested_by"] == "schedule * * * * * (Europe/Berlin)"
        assert events["events"][1]["data"]["message"] == (
            "Started by schedule * * * * * (Europe/Berlin)."
        )
        # ... and it runs to the end
        finish = time.monotonic() + 30
        while scan["status"] not in TERMINAL:
            assert time.monotonic() < finish, scan
            time.sleep(0.2)
            scan = client.get(f"/api/scans/{scan['id']}/").json()
        assert scan["status"] == "completed", scan
        return dict(scan)
    finally:
        client.patch(f"{schedules}{schedule['id']}/", json={"enabled": False})
