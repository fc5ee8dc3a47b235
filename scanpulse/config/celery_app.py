"""The Celery application of the production workers (``scanpulse worker``)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scanpulse.config.settings.embedded")

app = Celery("scanpulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    ["scanpulse.scans", "scanpulse.notifications", "scanpulse.schedules", "scanpulse.feeds"]
)


@signals.beat_init.connect
def _feed_task_in_step(sender: Any = None, **kwargs: Any) -> None:
    """The feed's periodic task follows SCANPULSE_OSV_SYNC_INTERVAL_HOURS from beat's start.

    The models are loaded without ``django.setup()``: that would configure logging again,
    onto the standard streams celery has redirected into its own logging by now, and every
    later line of beat's log ("Sending due task …") would be lost."""
    from django.apps import apps
    from django.conf import settings

    if not apps.ready:
        apps.populate(settings.INSTALLED_APPS)
    from scanpulse.feeds.periodic import ensure_periodic_task

    ensure_periodic_task()
