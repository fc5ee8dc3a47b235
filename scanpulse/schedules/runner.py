"""The embedded server's scheduler: a thread that runs due schedules, where production runs
``celery beat`` (one process, docs/deploy.md)."""

from __future__ import annotations

import logging

from django.conf import settings

from scanpulse.core.periodic import PeriodicThread

from .services import run_due_schedules

logger = logging.getLogger(__name__)


class ScheduleRunner(PeriodicThread):
    """Calls ``run_due_schedules`` every ``SCANPULSE_SCHEDULE_TICK_SECONDS`` on a daemon
    thread (a schedule runs at most that late)."""

    def __init__(self, interval: float | None = None) -> None:
        super().__init__(
            interval=interval or settings.SCANPULSE_SCHEDULE_TICK_SECONDS,
            name="scanpulse-schedules",
            what="running schedules",
            logger=logger,
        )

    def tick(self) -> None:
        run_due_schedules()
