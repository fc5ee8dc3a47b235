"""The events an endpoint may subscribe to, and the formats it may receive them in."""

from __future__ import annotations

from django.db import models

from scanpulse.analyzers.base import SEVERITIES

SCAN_COMPLETED = "scan.completed"
SCAN_FAILED = "scan.failed"
SCAN_CANCELLED = "scan.cancelled"
GATE_FAILED = "gate.failed"
ALERT_NEW = "alert.new"
# An advisory update matched a project's stored dependency inventory between scans.
ADVISORY_MATCHED = "advisory.matched"
# What the test button sends; never subscribed to, always accepted.
PING = "ping"

EVENTS: tuple[str, ...] = (
    SCAN_COMPLETED,
    SCAN_FAILED,
    SCAN_CANCELLED,
    GATE_FAILED,
    ALERT_NEW,
    ADVISORY_MATCHED,
)
# Events endpoints may subscribe to before anything sends them (none at the moment).
RESERVED: frozenset[str] = frozenset()
EVENT_CHOICES = [(event, event) for event in EVENTS]

# The event a scan's terminal status sends.
SCAN_EVENTS = {
    "completed": SCAN_COMPLETED,
    "failed": SCAN_FAILED,
    "cancelled": SCAN_CANCELLED,
}

SEVERITY_CHOICES = [(severity, severity) for severity in SEVERITIES]


def at_or_above(severity: str) -> tuple[str, ...]:
    """The severities at or above ``severity``, the most severe first."""
    return tuple(SEVERITIES[: SEVERITIES.index(severity) + 1])


class Format(models.TextChoices):
    JSON = "json", "JSON (scanpulse's documented schema)"
    SLACK = "slack", "Slack-compatible incoming webhook"
