"""The JSON form of a scan and of a finding: what the API answers and what the command line's
``--json`` writes in local mode, so both modes print the same thing.

Values are JSON-ready (UUIDs and times as strings, times in ISO 8601 with UTC written ``Z``).
The API's serializers (``scanpulse.scans.apis``) describe these shapes in the schema and answer
them through these functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from scanpulse.pipeline.coverage import Coverage
from scanpulse.tenancy.types import User

from .models import Finding, Scan, ScanStatus


def json_time(value: datetime | None) -> str | None:
    """ISO 8601 in the current time zone, ``+00:00`` written ``Z``."""
    if value is None:
        return None
    zone = timezone.get_current_timezone()
    value = value.astimezone(zone) if timezone.is_aware(value) else timezone.make_aware(value, zone)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def user_email(user: User | None) -> str | None:
    return user.email if user else None


def scan_coverage(scan: Scan) -> Coverage | None:
    """What the scan did not look at, once it has completed (``None`` before)."""
    if scan.status != ScanStatus.COMPLETED:
        return None
    return Coverage.from_summary(scan.summary)


def scan_payload(scan: Scan) -> dict[str, Any]:
    coverage = scan_coverage(scan)
    return {
        "id": str(scan.id),
        "project": str(scan.project_id),
        "organization": str(scan.organization_id),
        "ref": str(scan.ref),
        "commit_sha": str(scan.commit_sha),
        "status": str(scan.status),
        "progress": int(scan.progress),
        "step": str(scan.step),
        "findings_count": int(scan.findings_count),
        "created_at": json_time(scan.created_at),
        "started_at": json_time(scan.started_at),
        "finished_at": json_time(scan.finished_at),
        "requested_by": user_email(scan.requested_by),
        "cancelled_by": user_email(scan.cancelled_by),
        "error_message": str(scan.error_message),
        "summary": scan.summary,
        "attempt": int(scan.attempt),
        "last_event_id": int(scan.last_event_seq),
        "complete": None if coverage is None else coverage.complete,
        "gaps": [] if coverage is None else coverage.gaps,
        "gap_count": 0 if coverage is None else coverage.total,
        "gate": scan.gate,
        "base_ref": scan.base_ref or None,
        "pull_request": scan.pull_request,
        "compared_with": None if scan.compared_with is None else str(scan.compared_with),
        "compared_with_ref": scan.compared_with_ref or None,
        "new_in_pull_request": new_in_pull_request(scan),
        "requested_commit": scan.requested_commit or None,
        "trigger": str(scan.trigger),
        "started_by": scan.started_by or None,
    }


def new_in_pull_request(scan: Scan) -> int | None:
    """How many findings a pull request's scan (or one given a base) brings that its target
    branch's latest completed scan does not have; null for other scans and before the end."""
    if scan.status != ScanStatus.COMPLETED or not (scan.pull_request or scan.base_ref):
        return None
    value = scan.summary.get("new_in_pull_request") if isinstance(scan.summary, dict) else None
    return value if isinstance(value, int) else None


def finding_payload(finding: Finding) -> dict[str, Any]:
    return {
        "id": str(finding.id),
        "tool": str(finding.tool),
        "rule_id": str(finding.rule_id),
        "severity": str(finding.severity),
        "confidence": str(finding.confidence),
        "path": str(finding.path),
        "start_line": finding.start_line,
        "end_line": finding.end_line,
        "message": str(finding.message),
        "fingerprint": str(finding.fingerprint),
        "status": str(finding.status),
        "dismissed_reason": finding.dismissed_reason,
        "cwe": finding.cwe_ids,
        "properties": finding.properties,
    }
