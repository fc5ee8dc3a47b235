"""The change marker celery beat's database scheduler watches (django-celery-beat's
``PeriodicTasks``, one row) exists from the start.

Without it, a beat started while no periodic task had ever been saved takes the first
schedule created afterwards for no change at all (its check compares the marker with the one
it last saw, and "none" counts as "the same"), and runs it only after its forced reload, up to
5 minutes later.
"""

from django.db import migrations
from django.utils import timezone


def create_marker(apps, schema_editor):
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.get_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0001_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_marker, migrations.RunPython.noop)]
