"""The production executor: slot requests go to Celery workers through the broker
(``scanpulse worker``), whose task is ``scanpulse.scans.tasks.run_scan_task``."""

from __future__ import annotations

from uuid import UUID

from celery import Celery
from django.conf import settings
from django.utils.module_loading import import_string

from scanpulse.scans.executor import ScanExecutor

# The task's name, shared by the sender (any web process) and the workers.
RUN_SCAN_TASK = "scanpulse.scans.run_scan"


def celery_app() -> Celery:
    """The Celery application the deployment configures (``SCANPULSE_CELERY_APP``)."""
    app: Celery = import_string(settings.SCANPULSE_CELERY_APP)
    return app


class CeleryExecutor(ScanExecutor):
    def submit(self, scan_id: UUID | str) -> None:
        # By name: the web process never imports the task's module. The scan's id rides
        # along for workers of the previous release (a rolling upgrade), which run exactly
        # that scan.
        celery_app().send_task(RUN_SCAN_TASK, args=[str(scan_id)])

    def cancel(self, scan_id: UUID | str) -> None:
        # A running scan sees its cancel flag within a second (its watch polls it). The
        # message that asked for a slot is left alone: it may serve another scan by now.
        return None
