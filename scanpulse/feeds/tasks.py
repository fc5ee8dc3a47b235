"""The Celery entry point of the feed: ``celery beat`` sends ``sync_feed`` at the interval of
its periodic task (``.periodic``), a worker runs it."""

from __future__ import annotations

from celery import shared_task

from .periodic import SYNC_FEED_TASK
from .services import sync_feed as _sync_feed


@shared_task(name=SYNC_FEED_TASK, ignore_result=True)
def sync_feed() -> None:
    _sync_feed()
