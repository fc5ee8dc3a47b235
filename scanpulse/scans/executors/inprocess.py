"""The embedded executor: scans run on a bounded thread pool inside the server process."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import UUID

from django.conf import settings
from django.db import connections

from scanpulse.scans.attempts import run_scan
from scanpulse.scans.executor import ScanExecutor
from scanpulse.scans.liveness import cancel_local

logger = logging.getLogger(__name__)


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
        cancel_local(scan_id)

    def running(self) -> int:
        with self._lock:
            return sum(1 for future in self._futures if future.running())

    def shutdown(self, wait: bool = True) -> None:
        # Requests not yet taken are dropped: their scans wait in the database, where the
        # next server start finds them (``scan_resume_orphans``).
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _run_next() -> None:
    try:
        run_scan()
    except Exception:
        logger.exception("a scan crashed its worker thread")
    finally:
        # A scan is long next to a connect: no idle connection is kept between scans.
        connections.close_all()
