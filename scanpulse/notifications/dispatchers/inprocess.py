"""The embedded dispatcher: attempts run on a small thread pool in the server process, later
ones after a timer."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from django.conf import settings
from django.db import connections

from scanpulse.notifications.delivery import attempt
from scanpulse.notifications.dispatch import Dispatcher

logger = logging.getLogger(__name__)


class InProcessDispatcher(Dispatcher):
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=settings.SCANPULSE_WEBHOOK_CONCURRENCY,
            thread_name_prefix="scanpulse-webhook",
        )
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, delivery_id: UUID | str, *, delay: float = 0.0) -> None:
        if delay <= 0:
            self._start(str(delivery_id))
            return
        timer = threading.Timer(delay, self._fire, args=(str(delivery_id),))
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _fire(self, delivery_id: str) -> None:
        with self._lock:
            self._timers = {timer for timer in self._timers if timer.is_alive()}
        self._start(delivery_id)

    def _start(self, delivery_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._pool.submit(_attempt, delivery_id)

    def shutdown(self, wait: bool = True) -> None:
        # Timers dropped here leave their deliveries due in the database: the next
        # housekeeping (or the next start) attempts them.
        with self._lock:
            self._closed = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _attempt(delivery_id: str) -> None:
    try:
        attempt(delivery_id)
    except Exception:
        logger.exception("a webhook delivery crashed its thread")
    finally:
        connections.close_all()
