"""The Celery application of the production workers (``scanpulse worker``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scanpulse.config.settings.embedded")

app = Celery("scanpulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["scanpulse.scans", "scanpulse.notifications", "scanpulse.schedules"])
