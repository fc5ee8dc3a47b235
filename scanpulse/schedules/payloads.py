"""The JSON form of a schedule, for the API and the pages alike."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from .models import Schedule


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def local_time(moment: datetime | None, zone_name: str) -> datetime | None:
    """``moment`` on the wall clock of the schedule's zone."""
    if moment is None:
        return None
    return moment.astimezone(zoneinfo.ZoneInfo(zone_name))


def schedule_payload(schedule: Schedule) -> dict[str, Any]:
    local_next = local_time(schedule.next_run_at, schedule.timezone)
    return {
        "id": str(schedule.id),
        "project": str(schedule.project_id),
        "ref": schedule.ref,
        "kind": schedule.kind,
        "cron": schedule.cron or None,
        "every": schedule.every,
        "period": schedule.period or None,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "description": schedule.describe(),
        "next_run_at": _iso(schedule.next_run_at),
        "next_run_local": local_next.isoformat() if local_next is not None else None,
        "last_run_at": _iso(schedule.last_run_at),
        "last_outcome": schedule.last_outcome or None,
        "last_message": schedule.last_message or None,
        "last_scan": str(schedule.last_scan_id) if schedule.last_scan_id else None,
        "created_by": getattr(schedule.created_by, "email", None) or None,
        "created_at": _iso(schedule.created_at),
        "updated_at": _iso(schedule.updated_at),
    }
