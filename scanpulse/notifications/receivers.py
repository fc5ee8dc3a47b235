"""What the scans' and alerts' signals cause: one delivery per enabled endpoint of the
organization that subscribes to the event. Connected in every process (``apps``); each runs
after the transaction that caused it committed, in the process that committed it (a worker,
the embedded server, a command)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan

from .delivery import queue, sweep_due
from .events import ADVISORY_MATCHED, ALERT_NEW, GATE_FAILED, SCAN_EVENTS, at_or_above
from .models import Endpoint
from .payloads import (
    ALERTS_LISTED,
    advisory_match_data,
    alert_data,
    envelope,
    gate_data,
    new_alerts,
    scan_data,
)

logger = logging.getLogger(__name__)


def _subscribed(organization_id: Any, event: str) -> list[Endpoint]:
    endpoints = Endpoint.objects.filter(organization_id=organization_id, enabled=True)
    # Events are a short list in a JSON column: filtered here, the same on every database.
    return [endpoint for endpoint in endpoints if event in endpoint.events]


def on_scan_finished(
    sender: Any, *, scan_id: str, organization_id: str, status: str, gate: Any, **kwargs: Any
) -> None:
    event = SCAN_EVENTS.get(status)
    if event is None:
        return
    wanted = {event: _subscribed(organization_id, event)}
    if status == "completed" and gate is not None and not gate.get("passed", True):
        wanted[GATE_FAILED] = _subscribed(organization_id, GATE_FAILED)
    if not any(wanted.values()):
        return
    scan = Scan.objects.select_related("project", "organization").filter(pk=scan_id).first()
    if scan is None:  # deleted meanwhile
        return
    with transaction.atomic():
        for name, endpoints in wanted.items():
            for endpoint in endpoints:
                data = {"scan": scan_data(scan), "gate": gate_data(gate)}
                payload = envelope(event=name, organization=scan.organization, data=data)
                queue(endpoint=endpoint, event=name, payload=payload)


def on_alerts_opened(
    sender: Any,
    *,
    project_id: str,
    scan_id: str,
    ref: str,
    fingerprints: frozenset[str],
    **kwargs: Any,
) -> None:
    project = Project.objects.select_related("organization").filter(pk=project_id).first()
    if project is None:
        return
    endpoints = _subscribed(project.organization_id, ALERT_NEW)
    if not endpoints:
        return
    scan = Scan.objects.select_related("project").filter(pk=scan_id).first()
    if scan is None:
        return
    with transaction.atomic():
        for endpoint in endpoints:
            alerts, total = new_alerts(
                project_id=project.pk,
                ref=ref,
                fingerprints=fingerprints,
                min_severity=endpoint.min_severity,
            )
            if not total:
                continue
            data = {
                "scan": scan_data(scan),
                "minimum_severity": endpoint.min_severity,
                "total": total,
                "alerts": [alert_data(alert) for alert in alerts],
            }
            payload = envelope(event=ALERT_NEW, organization=project.organization, data=data)
            queue(endpoint=endpoint, event=ALERT_NEW, payload=payload)


def on_advisory_matched(
    sender: Any,
    *,
    organization_id: str,
    project_id: str,
    scan_id: str,
    ref: str,
    matches: list[dict[str, Any]],
    **kwargs: Any,
) -> None:
    """An advisory update matched a stored inventory (``scans.signals.advisory_matched``):
    one ``advisory.matched`` delivery per subscribed endpoint, its matches at or above the
    endpoint's minimum severity (the dismissed ones were never sent)."""
    endpoints = _subscribed(organization_id, ADVISORY_MATCHED)
    if not endpoints:
        return
    scan = Scan.objects.select_related("project", "organization").filter(pk=scan_id).first()
    if scan is None:
        return
    alerts, _ = new_alerts(
        project_id=scan.project_id,
        ref=ref,
        fingerprints=frozenset(match["fingerprint"] for match in matches),
        min_severity="info",
    )
    by_fingerprint = {alert.fingerprint: alert for alert in alerts}
    with transaction.atomic():
        for endpoint in endpoints:
            severities = at_or_above(endpoint.min_severity)
            listed = [
                advisory_match_data(by_fingerprint[match["fingerprint"]], match)
                for match in matches
                if match["fingerprint"] in by_fingerprint and match["severity"] in severities
            ]
            if not listed:
                continue
            data = {
                "scan": scan_data(scan),
                "found_by": "advisory_update",
                "minimum_severity": endpoint.min_severity,
                "total": len(listed),
                "matches": listed[:ALERTS_LISTED],
            }
            payload = envelope(event=ADVISORY_MATCHED, organization=scan.organization, data=data)
            queue(endpoint=endpoint, event=ADVISORY_MATCHED, payload=payload)


def on_housekeeping(sender: Any, **kwargs: Any) -> None:
    sweep_due()
