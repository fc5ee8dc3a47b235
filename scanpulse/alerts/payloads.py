"""The JSON form of an alert and of a triage action (values JSON-ready: ids and times as
strings, times in ISO 8601 with UTC written ``Z``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from .models import Alert, Dismissal, TriageAction


def json_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = timezone.localtime(value, timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def dismissal_payload(dismissal: Dismissal | None) -> dict[str, Any] | None:
    if dismissal is None:
        return None
    return {
        "reason": dismissal.reason,
        "comment": dismissal.comment,
        "expires_at": json_time(dismissal.expires_at),
        "by": dismissal.dismissed_by.email if dismissal.dismissed_by else None,
        "at": json_time(dismissal.dismissed_at),
    }


def alert_payload(alert: Alert, dismissal: Dismissal | None) -> dict[str, Any]:
    """``alert`` as listed (annotated with ``shown_state``), ``dismissal`` the one in force."""
    return {
        "id": str(alert.id),
        "project": str(alert.project_id),
        "ref": alert.ref,
        "fingerprint": alert.fingerprint,
        "state": getattr(alert, "shown_state", alert.state),
        "tool": alert.tool,
        "rule_id": alert.rule_id,
        "severity": alert.severity,
        "path": alert.path,
        "start_line": alert.start_line,
        "end_line": alert.end_line,
        "message": alert.message,
        "dismissal": dismissal_payload(dismissal),
        "first_seen": {
            "scan": str(alert.first_seen_scan),
            "commit_sha": alert.first_seen_commit,
            "at": json_time(alert.first_seen_at),
        },
        "last_seen": {
            "scan": str(alert.last_seen_scan),
            "commit_sha": alert.last_seen_commit,
            "at": json_time(alert.last_seen_at),
        },
        "fixed_at": json_time(alert.fixed_at),
        "fixed_in_scan": str(alert.fixed_in_scan) if alert.fixed_in_scan else None,
        "closed_reason": alert.closed_reason or None,
    }


def triage_action_payload(action: TriageAction) -> dict[str, Any]:
    return {
        "action": action.action,
        "reason": action.reason or None,
        "comment": action.comment,
        "expires_at": json_time(action.expires_at),
        "by": action.user_email or None,  # none: the system (an expiry, the repository)
        "at": json_time(action.created_at),
    }
