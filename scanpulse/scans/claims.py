"""Which waiting scan a free worker runs next, and the start of its attempt.

Scans wait in the database, not in the broker: a message to the workers (or a task for the
embedded pool) only asks for a free slot, and the slot runs the scan that is fairest to run
at that moment (``scan_claim_next``). A broker's queue is first in, first out: one
organization queueing many scans would otherwise hold every slot until all of them ran.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from .log import append_event
from .models import TERMINAL_STATUSES, Scan, ScanStatus
from .services import WAITING_FOR_A_WORKER, display_name, finish_locked


def scan_start(*, scan_id: UUID | str, attempt_limit: int) -> Scan | None:
    """Move a scan to ``running`` for a new attempt, or return None if it must not run:
    finished or cancelled meanwhile, running on a live worker (a duplicate delivery), or out
    of attempts — then it is failed here."""
    with transaction.atomic():
        scan = Scan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None:
            return None
        return _start_locked(scan, attempt_limit=attempt_limit)


def scan_claim_next(*, attempt_limit: int) -> Scan | None:
    """Start the waiting scan that is fairest to run now, for a worker with a free slot;
    None when no scan can start.

    Fair across organizations: the slot goes to the organization with the fewest running
    scans (the one waiting longest among equals), and there to its oldest waiting scan. An
    organization alone may use every slot; another one that queues a scan gets the next
    slot that frees, and so on until both run as many.

    One claim decides at a time (``_one_claim_at_a_time``): the fair order is read and the
    chosen scan started in one transaction that the next claim waits for. Two slots that free
    together would otherwise both read the same running counts and both give their slot to
    the organization that waited longest, ahead of one with nothing running. The row is
    still locked before it starts (and started only if it still waits once locked): however
    many workers ask at once, a scan starts once.
    """
    while True:
        with _one_claim_at_a_time():
            for organization_id in _organizations_in_fair_order():
                scan = (
                    Scan.objects.select_for_update(skip_locked=True)
                    .filter(WAITING_FOR_A_WORKER, organization_id=organization_id)
                    .order_by("created_at")
                    .first()
                )
                if scan is None:
                    continue  # another worker took it meanwhile
                started = _start_locked(scan, attempt_limit=attempt_limit)
                if started is not None:
                    return started
                break  # it ended instead (cancelled, out of attempts): look again
            else:
                return None


# Claims of this process (the embedded pool's slots are threads of one process; SQLite has
# no lock a reading transaction could take).
_claims_in_this_process = threading.Lock()
# Key of the PostgreSQL advisory lock that claims of all workers share ("scanpul" in hex).
_CLAIM_LOCK_KEY = 0x7363616E70756C


@contextmanager
def _one_claim_at_a_time() -> Iterator[None]:
    """A transaction that no other claim runs beside: on PostgreSQL a transaction-level
    advisory lock shared by every worker process, released when the transaction ends (after
    the started scan is committed); elsewhere a lock of this process around the transaction.
    A claim is a few short queries, once per scan start: waiting for one costs little."""
    with _claims_in_this_process, transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CLAIM_LOCK_KEY])
        yield


def _organizations_in_fair_order() -> list[Any]:
    """Organizations with waiting scans, those with the fewest running scans first."""
    running = dict(
        Scan.objects.filter(status=ScanStatus.RUNNING, heartbeat_at__isnull=False)
        .order_by()
        .values_list("organization_id")
        .annotate(count=Count("id"))
        .values_list("organization_id", "count")
    )
    waiting = (
        Scan.objects.filter(WAITING_FOR_A_WORKER)
        .order_by()
        .values_list("organization_id")
        .annotate(oldest=Min("created_at"))
        .values_list("organization_id", "oldest")
    )
    return [
        organization_id
        for organization_id, _oldest in sorted(
            waiting, key=lambda row: (running.get(row[0], 0), row[1])
        )
    ]


def _start_locked(scan: Scan, *, attempt_limit: int) -> Scan | None:
    if scan.status in TERMINAL_STATUSES:
        return None
    if scan.status == ScanStatus.RUNNING and not _heartbeat_stale(scan):
        return None
    if scan.cancel_requested_at is not None:
        who = display_name(scan.cancelled_by) if scan.cancelled_by else "a user"
        finish_locked(scan, status=ScanStatus.CANCELLED, message=f"Scan cancelled by {who}.")
        return None
    attempt = scan.attempt + 1
    if attempt > attempt_limit:
        finish_locked(
            scan,
            status=ScanStatus.FAILED,
            message=f"The scan was interrupted {scan.attempt} times and was given up.",
        )
        return None
    now = timezone.now()
    if attempt > 1:
        append_event(
            scan_id=scan.id,
            kind="attempt",
            data={"attempt": attempt, "message": f"Starting attempt {attempt}."},
            snapshot={"attempt": attempt},
        )
    append_event(
        scan_id=scan.id,
        kind="status",
        data={"status": ScanStatus.RUNNING, "attempt": attempt},
        snapshot={
            "status": ScanStatus.RUNNING,
            "attempt": attempt,
            "started_at": scan.started_at or now,
            "heartbeat_at": now,
            "progress": 0,
            "step": "",
            "findings_count": 0,
        },
    )
    scan.refresh_from_db()
    return scan


def _heartbeat_stale(scan: Scan) -> bool:
    if scan.heartbeat_at is None:
        return True
    age = (timezone.now() - scan.heartbeat_at).total_seconds()
    return age > settings.SCANPULSE_HEARTBEAT_TIMEOUT_SECONDS
