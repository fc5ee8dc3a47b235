"""Periodic upkeep shared by every process that runs scans.

- scans whose worker vanished (no heartbeat) start again, or fail after their last attempt;
- scans waiting for a worker since long ago ask for one again (their request may be lost);
- events an interrupted append left without their org stream number get it;
- event logs past retention are purged; the per-file cache is pruned;
- accepted risks past their expiry end (their alerts show open again, with the expiry in their
  history);
- checkouts left behind by killed workers on this machine are removed;
- the layers above do their own upkeep (``signals.housekeeping_ran``: due webhook deliveries).

Every step is idempotent and claims rows under a lock, so several processes may run it.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scanpulse.alerts.services import expire_dismissals
from scanpulse.audit.retention import audit_purge
from scanpulse.core.periodic import PeriodicThread
from scanpulse.pipeline.workspace import remove_tree

from .log import number_pending_events, purge_expired_events
from .models import AnalysisCacheEntry, Scan, ScanStatus
from .services import WAITING_FOR_A_WORKER, scan_enqueue, scan_reap
from .signals import housekeeping_ran

logger = logging.getLogger(__name__)

_WORKSPACE = re.compile(r"^scan-(\d+)-")


def reap_stale_scans(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SCANPULSE_HEARTBEAT_TIMEOUT_SECONDS)
    reaped = 0
    candidates = Scan.objects.filter(status=ScanStatus.RUNNING, heartbeat_at__lt=cutoff)
    for scan_id in candidates.values_list("id", flat=True):
        if scan_reap(
            scan_id=scan_id,
            stale_before=cutoff,
            attempt_limit=settings.SCANPULSE_SCAN_ATTEMPTS,
        ):
            reaped += 1
    return reaped


def requeue_lost_pending(*, now: datetime | None = None) -> int:
    """Ask again for a worker for scans waiting longer than ``SCANPULSE_REQUEUE_PENDING_SECONDS``:
    queued ones, and those whose worker was given up (a broker restarted without its data
    loses the requests). A spare request is harmless: it runs the next waiting scan."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SCANPULSE_REQUEUE_PENDING_SECONDS)
    requeued = 0
    stale = Scan.objects.filter(WAITING_FOR_A_WORKER, enqueued_at__lt=cutoff)
    for scan_id in stale.values_list("id", flat=True):
        with transaction.atomic():
            scan = (
                Scan.objects.select_for_update(skip_locked=True)
                .filter(WAITING_FOR_A_WORKER, pk=scan_id, enqueued_at__lt=cutoff)
                .first()
            )
            if scan is not None:
                scan_enqueue(scan=scan)
                requeued += 1
    return requeued


def prune_analysis_cache(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCANPULSE_CACHE_DAYS)
    deleted, _ = AnalysisCacheEntry.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def remove_abandoned_workspaces(work_dir: Path) -> int:
    """Checkouts of scan processes on this machine that no longer exist."""
    removed = 0
    if not work_dir.is_dir():
        return 0
    for entry in work_dir.iterdir():
        match = _WORKSPACE.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        remove_tree(entry)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_housekeeping() -> None:
    unnumbered = number_pending_events()
    reaped = reap_stale_scans()
    requeued = requeue_lost_pending()
    purged = purge_expired_events(
        retention=timedelta(seconds=settings.SCANPULSE_EVENT_RETENTION_SECONDS)
    )
    pruned = prune_analysis_cache()
    removed = remove_abandoned_workspaces(Path(settings.SCANPULSE_WORK_DIR))
    expired = expire_dismissals()
    audit_removed = audit_purge()
    if unnumbered or reaped or requeued or purged or pruned or removed or expired or audit_removed:
        logger.info(
            "housekeeping: %d organizations with unnumbered events, %d stale scans, %d requeued, %d events purged, %d cache entries "
            "pruned, %d workspaces removed, %d dismissals expired, %d audit entries past retention",
            unnumbered,
            reaped,
            requeued,
            purged,
            pruned,
            removed,
            expired,
            audit_removed,
        )
    for receiver, result in housekeeping_ran.send_robust(sender=Housekeeper):
        if isinstance(result, Exception):
            logger.error("housekeeping of %r failed: %r", receiver, result)


class Housekeeper(PeriodicThread):
    """Runs ``run_housekeeping`` every ``SCANPULSE_HOUSEKEEPING_SECONDS`` on a daemon thread."""

    def __init__(self, interval: float | None = None) -> None:
        super().__init__(
            interval=interval or settings.SCANPULSE_HOUSEKEEPING_SECONDS,
            name="scanpulse-housekeeping",
            what="housekeeping",
            logger=logger,
        )

    def tick(self) -> None:
        run_housekeeping()
