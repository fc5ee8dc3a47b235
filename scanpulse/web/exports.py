"""A filtered list of alerts as a CSV or JSON download, each alert with its state and, when
dismissed, why. Messages are stored with secrets already masked; nothing else is exported.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or a carriage return) as a formula: such cells are written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from scanpulse.alerts.models import Alert, Dismissal
from scanpulse.alerts.payloads import alert_payload, json_time
from scanpulse.alerts.selectors import alert_list, dismissals_of
from scanpulse.projects.models import Project
from scanpulse.scans.models import Finding, Scan
from scanpulse.scans.payloads import finding_payload

EXPORT_BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "id",
    "state",
    "severity",
    "tool",
    "rule_id",
    "path",
    "start_line",
    "end_line",
    "message",
    "ref",
    "first_seen_at",
    "last_seen_at",
    "fixed_at",
    "dismissed_reason",
    "dismissed_comment",
    "dismissal_expires_at",
    "dismissed_by",
)


def spreadsheet_safe(value: Any) -> str:
    """``value`` as a CSV cell that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _batches(
    project: Project, alerts: Iterable[Alert]
) -> Iterator[list[tuple[Alert, Dismissal | None]]]:
    batch: list[Alert] = []

    def with_dismissals(chunk: list[Alert]) -> list[tuple[Alert, Dismissal | None]]:
        found = dismissals_of(project_id=project.id, fingerprints=[a.fingerprint for a in chunk])
        return [(alert, found.get(alert.fingerprint)) for alert in chunk]

    for alert in alerts:
        batch.append(alert)
        if len(batch) >= EXPORT_BATCH:
            yield with_dismissals(batch)
            batch = []
    if batch:
        yield with_dismissals(batch)


def _csv_row(alert: Alert, dismissal: Dismissal | None) -> list[str]:
    values = {
        "id": alert.id,
        "state": getattr(alert, "shown_state", alert.state),
        "severity": alert.severity,
        "tool": alert.tool,
        "rule_id": alert.rule_id,
        "path": alert.path,
        "start_line": alert.start_line,
        "end_line": alert.end_line,
        "message": alert.message,
        "ref": alert.ref,
        "first_seen_at": json_time(alert.first_seen_at),
        "last_seen_at": json_time(alert.last_seen_at),
        "fixed_at": json_time(alert.fixed_at),
        "dismissed_reason": dismissal.reason if dismissal else "",
        "dismissed_comment": dismissal.comment if dismissal else "",
        "dismissal_expires_at": json_time(dismissal.expires_at) if dismissal else "",
        "dismissed_by": (
            dismissal.dismissed_by.email if dismissal and dismissal.dismissed_by else ""
        ),
    }
    return [spreadsheet_safe(values[name]) for name in CSV_COLUMNS]


def csv_chunks(project: Project, alerts: Iterable[Alert]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for batch in _batches(project, alerts):
        for alert, dismissal in batch:
            writer.writerow(_csv_row(alert, dismissal))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_chunks(project: Project, alerts: Iterable[Alert]) -> Iterator[str]:
    """``{"alerts": [...]}``, each as the API shows it."""
    yield '{"alerts": ['
    first = True
    for batch in _batches(project, alerts):
        for alert, dismissal in batch:
            yield ("" if first else ",") + json.dumps(alert_payload(alert, dismissal))
            first = False
    yield "]}\n"


FINDING_CSV_COLUMNS = (
    "id",
    "severity",
    "tool",
    "rule_id",
    "path",
    "start_line",
    "end_line",
    "message",
    "change",
    "dismissed_reason",
    "alert_state",
    "fingerprint",
)


def _finding_batches(
    scan: Scan, findings: Iterable[Finding]
) -> Iterator[list[tuple[Finding, str]]]:
    """The findings with what their alert (same project, ref and fingerprint) shows now."""

    def with_states(chunk: list[Finding]) -> list[tuple[Finding, str]]:
        states = {
            alert.fingerprint: str(getattr(alert, "shown_state", alert.state))
            for alert in alert_list(project=scan.project, ref=scan.ref).filter(
                fingerprint__in={finding.fingerprint for finding in chunk}
            )
        }
        return [(finding, states.get(finding.fingerprint, "")) for finding in chunk]

    batch: list[Finding] = []
    for finding in findings:
        batch.append(finding)
        if len(batch) >= EXPORT_BATCH:
            yield with_states(batch)
            batch = []
    if batch:
        yield with_states(batch)


def finding_csv_chunks(scan: Scan, findings: Iterable[Finding]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FINDING_CSV_COLUMNS)
    for batch in _finding_batches(scan, findings):
        for finding, state in batch:
            values = {
                **{name: getattr(finding, name) for name in FINDING_CSV_COLUMNS[:8]},
                "fingerprint": finding.fingerprint,
                "change": finding.status,
                "dismissed_reason": finding.dismissed_reason or "",
                "alert_state": state,
            }
            writer.writerow([spreadsheet_safe(values[name]) for name in FINDING_CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def finding_json_chunks(scan: Scan, findings: Iterable[Finding]) -> Iterator[str]:
    """``{"findings": [...]}``, each as the API lists it, with ``alert_state``."""
    yield '{"findings": ['
    first = True
    for batch in _finding_batches(scan, findings):
        for finding, state in batch:
            body = finding_payload(finding) | {"alert_state": state or None}
            yield ("" if first else ",") + json.dumps(body)
            first = False
    yield "]}\n"


def finding_export_response(
    scan: Scan, findings: Iterable[Finding], kind: str
) -> StreamingHttpResponse:
    if kind == "csv":
        response = StreamingHttpResponse(
            finding_csv_chunks(scan, findings), content_type="text/csv"
        )
    else:
        response = StreamingHttpResponse(
            finding_json_chunks(scan, findings), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="findings-{scan.id}.{kind}"'
    return response


def export_response(project: Project, alerts: Iterable[Alert], kind: str) -> StreamingHttpResponse:
    if kind == "csv":
        response = StreamingHttpResponse(csv_chunks(project, alerts), content_type="text/csv")
    else:
        response = StreamingHttpResponse(
            json_chunks(project, alerts), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="alerts-{project.id}.{kind}"'
    return response
