"""The Celery application of tests that send slot requests to a private broker: settings
point ``SCANPULSE_CELERY_APP`` here (``tests.support.brokers.app``) while one is set."""

from __future__ import annotations

from celery import Celery

app: Celery | None = None
