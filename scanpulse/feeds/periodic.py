"""The periodic task that makes ``celery beat`` sync the feed: created by a migration
(``advisories.0003``), brought in step with ``SCANPULSE_OSV_SYNC_INTERVAL_HOURS`` whenever
beat starts (``scanpulse.config.celery_app``). An interval of 0 disables it."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

SYNC_FEED_TASK = "scanpulse.advisories.sync_feed"
PERIODIC_TASK_NAME = "scanpulse advisory feed"


def ensure_periodic_task() -> PeriodicTask:
    hours = settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS
    with transaction.atomic():
        every = IntervalSchedule.objects.filter(
            every=max(hours, 1), period=IntervalSchedule.HOURS
        ).first() or IntervalSchedule.objects.create(
            every=max(hours, 1), period=IntervalSchedule.HOURS
        )
        task, _ = PeriodicTask.objects.get_or_create(
            name=PERIODIC_TASK_NAME,
            defaults={"task": SYNC_FEED_TASK, "interval": every},
        )
        changed = (task.task, task.interval_id, task.crontab_id, task.enabled) != (
            SYNC_FEED_TASK,
            every.pk,
            None,
            hours > 0,
        )
        if changed:
            task.task, task.interval, task.crontab, task.enabled = (
                SYNC_FEED_TASK,
                every,
                None,
                hours > 0,
            )
            task.description = "Syncs the OSV advisory feed (SCANPULSE_OSV_SYNC_INTERVAL_HOURS)."
            task.save()  # saving tells beat's database scheduler
    return task
