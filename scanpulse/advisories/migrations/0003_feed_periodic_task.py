"""The periodic task that makes celery beat sync the OSV advisory feed, daily
(``scanpulse.feeds.periodic``; beat brings it in step with SCANPULSE_OSV_SYNC_INTERVAL_HOURS
when it starts)."""

from django.db import migrations
from django.utils import timezone

NAME = "scanpulse advisory feed"
TASK = "scanpulse.advisories.sync_feed"


def create_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every = IntervalSchedule.objects.filter(every=24, period="hours").first()
    if every is None:
        every = IntervalSchedule.objects.create(every=24, period="hours")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every,
            "description": "Syncs the OSV advisory feed (SCANPULSE_OSV_SYNC_INTERVAL_HOURS).",
        },
    )
    # Tell a running beat (django-celery-beat's change marker).
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_task(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("advisories", "0002_feed_sync_state"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_task, remove_task)]
