"""Prometheus metrics of scans (served at ``/metrics`` with the others)."""

from __future__ import annotations

from uuid import UUID

from prometheus_client import Histogram

from .models import Scan

SCAN_DURATION = Histogram(
    "scanpulse_scan_duration_seconds",
    "Wall time of scans that reached a terminal status",
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


def observe_duration(*, scan_id: UUID | str) -> None:
    """Count the wall time of a scan that has just ended (a read: safe to repeat)."""
    scan = Scan.objects.filter(pk=scan_id).only("started_at", "finished_at").first()
    if scan is not None and scan.started_at and scan.finished_at:
        SCAN_DURATION.observe((scan.finished_at - scan.started_at).total_seconds())
