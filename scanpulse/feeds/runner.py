"""The embedded server's feed thread: syncs once right after the server listens (in the
background, so the start is not delayed) and then every ``SCANPULSE_OSV_SYNC_INTERVAL_HOURS``;
production runs the beat task instead (``.tasks``)."""

from __future__ import annotations

import contextlib
import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from .services import sync_feed

logger = logging.getLogger(__name__)


class FeedRunner:
    def __init__(self, interval_hours: float | None = None) -> None:
        hours = (
            settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS if interval_hours is None else interval_hours
        )
        self.interval = hours * 3600
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scanpulse-feed", daemon=True)

    def start(self) -> FeedRunner:
        if self.interval > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            # A download under way ends with the process (the thread is a daemon); its
            # transaction, if any, rolls back.
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for result in sync_feed():
                    if result.outcome == "failed":
                        logger.warning("advisory feed %s: %s", result.ecosystem, result.error)
            except Exception:
                logger.exception("syncing the advisory feed failed")
            finally:
                with contextlib.suppress(Exception):
                    close_old_connections()
            if self._stop.wait(self.interval):
                return
