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
from scanpulse.alerts.selectors import dismissals_of
from scanpulse.projects.models import Project

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


def export_response(project: Project, alerts: Iterable[Alert], kind: str) -> StreamingHttpResponse:
    if kind == "csv":
        response = StreamingHttpResponse(csv_chunks(project, alerts), content_type="text/csv")
    else:
        response = StreamingHttpResponse(
            json_chunks(project, alerts), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="alerts-{project.id}.{kind}"'
    return response
