"""A filtered list of alerts as a CSV or JSON download, each alert with its state and, when
dismissed, why. Messages are stored with secrets already masked; nothing else is exported.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or a carriage return) as a formula: such cells are written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
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
    "closed_reason",
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
        "closed_reason": alert.closed_reason,
        "dismissed_reason": dismissal.reason if dismissal else "",
        "dismissed_comment": dismissal.comment if dismissal else "",
        "dismissal_expires_at": json_time(dismissal.expires_at) if dismissal else "",
        "dismissed_by": (
            dismissal.dismissed_by.email if dismissal and dismissal.dismissed_by else ""
        ),
    }
    return [spreadsheet_safe(values[name]) for name in CSV_COLUMNS]


def _csv_stream(header: Sequence[str], batches: Iterable[Iterable[list[str]]]) -> Iterator[str]:
    """A CSV file, sent a batch of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for batch in batches:
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json_stream(key: str, batches: Iterable[Iterable[dict[str, Any]]]) -> Iterator[str]:
    """``{key: [...]}``, sent an item at a time."""
    yield f'{{"{key}": ['
    first = True
    for batch in batches:
        for item in batch:
            yield ("" if first else ",") + json.dumps(item)
            first = False
    yield "]}\n"


def _response(chunks: Iterator[str], kind: str, filename: str) -> StreamingHttpResponse:
    content_type = "text/csv" if kind == "csv" else "application/json"
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    return response


def csv_chunks(project: Project, alerts: Iterable[Alert]) -> Iterator[str]:
    rows = ([_csv_row(*pair) for pair in batch] for batch in _batches(project, alerts))
    return _csv_stream(CSV_COLUMNS, rows)


def json_chunks(project: Project, alerts: Iterable[Alert]) -> Iterator[str]:
    """``{"alerts": [...]}``, each as the API shows it."""
    items = ([alert_payload(*pair) for pair in batch] for batch in _batches(project, alerts))
    return _json_stream("alerts", items)


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


def _finding_csv_row(finding: Finding, state: str) -> list[str]:
    values = {
        **{name: getattr(finding, name) for name in FINDING_CSV_COLUMNS[:8]},
        "fingerprint": finding.fingerprint,
        "change": finding.status,
        "dismissed_reason": finding.dismissed_reason or "",
        "alert_state": state,
    }
    return [spreadsheet_safe(values[name]) for name in FINDING_CSV_COLUMNS]


def finding_csv_chunks(scan: Scan, findings: Iterable[Finding]) -> Iterator[str]:
    batches = _finding_batches(scan, findings)
    return _csv_stream(FINDING_CSV_COLUMNS, ([_finding_csv_row(*p) for p in b] for b in batches))


def finding_json_chunks(scan: Scan, findings: Iterable[Finding]) -> Iterator[str]:
    """``{"findings": [...]}``, each as the API lists it, with ``alert_state``."""
    items = (
        [finding_payload(finding) | {"alert_state": state or None} for finding, state in batch]
        for batch in _finding_batches(scan, findings)
    )
    return _json_stream("findings", items)


def finding_export_response(
    scan: Scan, findings: Iterable[Finding], kind: str
) -> StreamingHttpResponse:
    chunks = finding_csv_chunks if kind == "csv" else finding_json_chunks
    return _response(chunks(scan, findings), kind, f"findings-{scan.id}")


def export_response(project: Project, alerts: Iterable[Alert], kind: str) -> StreamingHttpResponse:
    chunks = csv_chunks if kind == "csv" else json_chunks
    return _response(chunks(project, alerts), kind, f"alerts-{project.id}")
