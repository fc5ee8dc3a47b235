"""The embedded server's scheduler: a thread that runs due schedules, where production runs
``celery beat`` (one process, docs/deploy.md)."""

from __future__ import annotations

import contextlib
import logging
import threading

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from .services import run_due_schedules

logger = logging.getLogger(__name__)


class ScheduleRunner:
    """Calls ``run_due_schedules`` every ``SCANPULSE_SCHEDULE_TICK_SECONDS`` on a daemon
    thread (a schedule runs at most that late)."""

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval or settings.SCANPULSE_SCHEDULE_TICK_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scanpulse-schedules", daemon=True)

    def start(self) -> ScheduleRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                run_due_schedules()
            except DatabaseError as exc:
                logger.warning("schedules skipped, database unavailable: %s", exc)
            except Exception:
                logger.exception("running schedules failed")
            finally:
                with contextlib.suppress(Exception):
                    close_old_connections()
