"""Where scans run: a backend behind a small interface, chosen by settings.

Embedded mode runs scans on a bounded thread pool inside the server process; production
hands them to Celery workers. Both call the same task function.

What an executor queues is a request for a slot, not a particular scan: when a slot takes
the request, it runs the waiting scan that is fairest to run at that moment
(``scanpulse.scans.services.scan_claim_next``). One request is made per scan that starts
waiting, so there are at least as many requests as waiting scans; a spare one finds nothing
to run and ends.
"""

from __future__ import annotations

import abc
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import UUID

from django.conf import settings
from django.db import connections

from scanpulse.core.backends import Backend

logger = logging.getLogger(__name__)


class ScanExecutor(abc.ABC):
    @abc.abstractmethod
    def submit(self, scan_id: UUID | str) -> None:
        """Ask for a slot because ``scan_id`` started waiting (called after the transaction
        that made it wait has committed); the slot runs the fairest waiting scan."""

    @abc.abstractmethod
    def cancel(self, scan_id: UUID | str) -> None:
        """Stop a scan running here now, rather than at its next cancellation check (a
        waiting scan needs nothing: once cancelled, no slot picks it)."""

    def shutdown(self, wait: bool = True) -> None:
        return None


class InProcessExecutor(ScanExecutor):
    def __init__(self, max_workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers or settings.SCANPULSE_WORKER_CONCURRENCY,
            thread_name_prefix="scanpulse-scan",
        )
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, scan_id: UUID | str) -> None:
        future = self._pool.submit(_run_next)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def cancel(self, scan_id: UUID | str) -> None:
        from .liveness import cancel_local

        cancel_local(scan_id)

    def running(self) -> int:
        """How many slots are at work now (for a server saying what it waits for on exit)."""
        with self._lock:
            return sum(1 for future in self._futures if future.running())

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


RUN_SCAN_TASK = "scanpulse.scans.run_scan"


class CeleryExecutor(ScanExecutor):
    """Slot requests go to Celery workers through the broker (``scanpulse worker``)."""

    def submit(self, scan_id: UUID | str) -> None:
        from scanpulse.config.celery_app import app

        # By name, through our app: the web process never imports the task's module. The
        # scan's id rides along for workers of the previous release (a rolling upgrade),
        # which run exactly that scan.
        app.send_task(RUN_SCAN_TASK, args=[str(scan_id)])

    def cancel(self, scan_id: UUID | str) -> None:
        # A running scan sees its cancel flag within a second (its watch polls it). The
        # message that asked for a slot is left alone: it may serve another scan by now.
        return None


def _run_next() -> None:
    from .tasks import run_scan

    try:
        run_scan()
    except Exception:
        logger.exception("a scan crashed its worker thread")
    finally:
        # A scan is long next to a connect: no idle connection is kept between scans.
        connections.close_all()


_executor: Backend[ScanExecutor] = Backend("SCANPULSE_SCAN_EXECUTOR")


def get_executor() -> ScanExecutor:
    return _executor.get()


def reset_executor(wait: bool = True) -> None:
    _executor.reset(lambda executor: executor.shutdown(wait=wait))
