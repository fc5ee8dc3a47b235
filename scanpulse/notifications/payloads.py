"""The JSON of an event (``schema/webhook-payload.schema.json`` documents it).

Built from what the application already stores and shows: scan summaries, gate verdicts and
alerts (whose messages are redacted when saved). Never a secret: no signing secret, no
destination address, no code excerpt.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from scanpulse.alerts.models import Alert, AlertState
from scanpulse.alerts.selectors import dismissed_fingerprints
from scanpulse.scans.models import Scan

from .events import at_or_above

SCHEMA_VERSION = 1
# Alerts one ``alert.new`` event lists at most (``total`` counts them all).
ALERTS_LISTED = 50
# Texts of the gate's reasons kept, and their length.
REASONS_LISTED = 20
MESSAGE_KEPT = 500


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def envelope(*, event: str, organization: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": str(uuid.uuid4()),
        "type": event,
        "created_at": _time(timezone.now()),
        "organization": {"id": str(organization.id), "name": organization.name},
        "data": data,
    }


def scan_data(scan: Scan) -> dict[str, Any]:
    return {
        "id": str(scan.id),
        "status": scan.status,
        "project": {"id": str(scan.project_id), "name": scan.project.name},
        "ref": scan.ref,
        "commit_sha": scan.commit_sha or None,
        "findings_count": scan.findings_count,
        "message": (scan.error_message or str(scan.summary.get("message", "")))[:MESSAGE_KEPT],
        "created_at": _time(scan.created_at),
        "started_at": _time(scan.started_at),
        "finished_at": _time(scan.finished_at),
    }


def gate_data(gate: dict[str, Any] | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    reasons = [str(reason)[:MESSAGE_KEPT] for reason in gate.get("reasons", [])]
    return {"passed": bool(gate.get("passed")), "reasons": reasons[:REASONS_LISTED]}


def alert_data(alert: Alert) -> dict[str, Any]:
    return {
        "id": str(alert.id),
        "fingerprint": alert.fingerprint,
        "severity": alert.severity,
        "tool": alert.tool,
        "rule_id": alert.rule_id,
        "path": alert.path,
        "start_line": alert.start_line,
        "message": alert.message[:MESSAGE_KEPT],
    }


def advisory_match_data(alert: Alert, match: dict[str, Any]) -> dict[str, Any]:
    """One match of an advisory update: the alert, the package and the advisories new to it."""
    return {
        "alert": alert_data(alert),
        "ecosystem": str(match["ecosystem"]),
        "package": str(match["package"]),
        "version": str(match["version"]),
        "manifest": str(match["manifest"]),
        "direct": bool(match["direct"]),
        "advisories": [
            {
                "id": str(advisory["id"]),
                "aliases": [str(alias) for alias in advisory["aliases"]],
                "summary": str(advisory["summary"])[:MESSAGE_KEPT],
                "published": str(advisory["published"]),
                "modified": str(advisory["modified"]),
            }
            for advisory in match["advisories"]
        ],
    }


def new_alerts(
    *, project_id: Any, ref: str, fingerprints: frozenset[str], min_severity: str
) -> tuple[list[Alert], int]:
    """The open, not dismissed alerts among ``fingerprints`` at or above ``min_severity``,
    the most severe first (at most ``ALERTS_LISTED``), and how many there are."""
    dismissed = dismissed_fingerprints(project_id=project_id)
    wanted = sorted(fingerprints - set(dismissed))
    severities = at_or_above(min_severity)
    found: list[Alert] = []
    for start in range(0, len(wanted), 1000):
        found += Alert.objects.filter(
            project_id=project_id,
            ref=ref,
            state=AlertState.OPEN,
            severity__in=severities,
            fingerprint__in=wanted[start : start + 1000],
        )
    found.sort(
        key=lambda alert: (severities.index(alert.severity), alert.path, alert.start_line or 0)
    )
    return found[:ALERTS_LISTED], len(found)
