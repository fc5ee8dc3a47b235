"""The Celery entry point of scan workers (``scanpulse worker``): a slot request from the
broker runs a scan through the same service as the embedded executor."""

from __future__ import annotations

from celery import shared_task

from .attempts import run_scan
from .executors.celery import RUN_SCAN_TASK
from .monitoring import REMATCH_TASK, rematch


@shared_task(name=RUN_SCAN_TASK, ignore_result=True)
def run_scan_task(scan_id: str | None = None) -> None:
    """The Celery face of ``run_scan``; acknowledged late, redelivered if the worker dies.

    A message asks for a slot: it runs the fairest waiting scan, which need not be
    ``scan_id`` (the scan whose wait sent it).
    """
    run_scan()


@shared_task(name=REMATCH_TASK, ignore_result=True)
def rematch_advisories_task(ids: list[str]) -> None:
    """The Celery face of ``monitoring.rematch``: stored inventories matched against the
    advisories an advisory load changed."""
    rematch(ids)
