"""The Celery entry point of webhook deliveries (production mode)."""

from __future__ import annotations

from celery import shared_task

from .delivery import attempt
from .dispatchers.celery import DELIVER_TASK


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver_webhook_task(delivery_id: str) -> None:
    attempt(delivery_id)
