"""Where scans run: a backend behind a small interface, chosen by settings.

Embedded mode runs scans on a bounded thread pool inside the server process; production
hands them to Celery workers. Both call the same task function.
"""

from __future__ import annotations

import abc
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class ScanExecutor(abc.ABC):
    @abc.abstractmethod
    def submit(self, scan_id: UUID | str) -> None:
        """Queue the scan. Called after the transaction that created it has committed."""

    @abc.abstractmethod
    def cancel(self, scan_id: UUID | str) -> None:
        """Drop a queued scan; a running one stops at its next cancellation check."""

    def shutdown(self, wait: bool = True) -> None:
        return None


class InProcessExecutor(ScanExecutor):
    def __init__(self, max_workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers or settings.SCANPULSE_WORKER_CONCURRENCY,
            thread_name_prefix="scanpulse-scan",
        )
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def submit(self, scan_id: UUID | str) -> None:
        key = str(scan_id)
        future = self._pool.submit(_run, key)
        with self._lock:
            self._futures[key] = future
        future.add_done_callback(lambda _f: self._forget(key))

    def _forget(self, key: str) -> None:
        with self._lock:
            self._futures.pop(key, None)

    def cancel(self, scan_id: UUID | str) -> None:
        from .liveness import cancel_local

        with self._lock:
            future = self._futures.get(str(scan_id))
        if future is not None:
            future.cancel()  # succeeds only while queued
        cancel_local(scan_id)

    def running(self) -> int:
        with self._lock:
            return sum(1 for future in self._futures.values() if future.running())

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


RUN_SCAN_TASK = "scanpulse.scans.run_scan"


class CeleryExecutor(ScanExecutor):
    """Scans go to Celery workers through the broker (``scanpulse worker``)."""

    @staticmethod
    def task_id(scan_id: UUID | str) -> str:
        return f"scan:{scan_id}"

    def submit(self, scan_id: UUID | str) -> None:
        from scanpulse.config.celery_app import app

        # By name, through our app: the web process never imports the task's module.
        app.send_task(RUN_SCAN_TASK, args=[str(scan_id)], task_id=self.task_id(scan_id))

    def cancel(self, scan_id: UUID | str) -> None:
        from scanpulse.config.celery_app import app

        # Drops the message if it is still queued; a running scan sees its cancel flag.
        app.control.revoke(self.task_id(scan_id))


def _run(scan_id: str) -> None:
    from .tasks import run_scan

    try:
        run_scan(scan_id)
    except Exception:
        logger.exception("scan %s crashed its worker thread", scan_id)
    finally:
        # A scan is long next to a connect: no idle connection is kept between scans.
        connections.close_all()


_executor: ScanExecutor | None = None
_executor_lock = threading.Lock()


def get_executor() -> ScanExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = import_string(settings.SCANPULSE_SCAN_EXECUTOR)()
    return _executor


def reset_executor(wait: bool = True) -> None:
    global _executor
    with _executor_lock:
        if _executor is not None:
            _executor.shutdown(wait=wait)
        _executor = None
