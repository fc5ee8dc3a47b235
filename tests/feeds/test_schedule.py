"""Production's schedule (a django-celery-beat periodic task sending the Celery task) and the
signal after a load from a path."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_celery_beat.models import PeriodicTask

from scanpulse.advisories.models import AdvisoryRecord
from scanpulse.advisories.signals import advisories_changed
from scanpulse.advisories.store import sync_advisories
from scanpulse.feeds.periodic import PERIODIC_TASK_NAME, SYNC_FEED_TASK, ensure_periodic_task
from tests.support.osv_feed import export_zip, fixture_records

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_the_migrations_leave_a_daily_beat_task_that_syncs_the_feed() -> None:
    # The migration that writes the task, applied as on a new database: the rows it wrote
    # when the test database was made are gone once a transactional test emptied the tables.
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    PeriodicTask.objects.all().delete()
    loader = MigrationExecutor(connection).loader
    key = ("advisories", "0003_feed_periodic_task")
    state = loader.project_state(key, at_end=False)
    with connection.schema_editor() as editor:
        loader.get_migration(*key).apply(state, editor)

    task = PeriodicTask.objects.get(name=PERIODIC_TASK_NAME)
    assert task.task == "scanpulse.advisories.sync_feed" == SYNC_FEED_TASK
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (24, "hours")


def test_beat_keeps_the_task_in_step_with_the_interval_setting(settings) -> None:
    settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS = 1
    ensure_periodic_task()
    task = PeriodicTask.objects.get(name=PERIODIC_TASK_NAME)
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "hours", True)

    settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS = 0
    ensure_periodic_task()
    assert not PeriodicTask.objects.get(name=PERIODIC_TASK_NAME).enabled
    assert PeriodicTask.objects.filter(task=SYNC_FEED_TASK).count() == 1


def test_the_celery_task_is_registered_and_syncs(feed_settings, feed, go_records) -> None:
    from scanpulse.config.celery_app import app

    app.loader.import_default_modules()
    task = app.tasks[SYNC_FEED_TASK]
    task.apply().get()  # as a worker runs it
    assert AdvisoryRecord.objects.filter(feed="Go").values("osv_id").distinct().count() == len(
        go_records
    )
    assert [seen.path for seen in feed.requests] == ["/Go/all.zip", "/npm/all.zip"]


def test_a_load_from_a_path_announces_what_it_changed(
    tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    received: list[list[str]] = []

    def receiver(sender, ids, **kwargs) -> None:
        received.append(ids)

    records = fixture_records("osv-go")
    first = tmp_path / "first.zip"
    first.write_bytes(export_zip(records))
    advisories_changed.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sync_advisories(first)
        assert received == [sorted(records)]
        # The same data again changes nothing; a directory with one record fewer withdraws it.
        with django_capture_on_commit_callbacks(execute=True):
            sync_advisories(first)
        assert received == [sorted(records)]
        dropped = sorted(records)[0]
        smaller = tmp_path / "smaller.zip"
        smaller.write_bytes(export_zip({k: v for k, v in records.items() if k != dropped}))
        with django_capture_on_commit_callbacks(execute=True):
            sync_advisories(smaller)
        assert received[1:] == [[dropped]]
    finally:
        advisories_changed.disconnect(receiver)


@pytest.mark.services
@pytest.mark.timeout(60)
def test_a_starting_beat_brings_the_task_in_step_with_the_setting(
    transactional_db, settings, tmp_path: Path
) -> None:
    """A real ``celery beat`` (deploy/start-beat's command) on this run's database."""
    import os
    import subprocess
    import sys
    import time

    from tests.support.services import suite_database_url

    settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS = 24
    ensure_periodic_task()  # what the migration made (a transactional test starts empty)
    assert PeriodicTask.objects.get(name=PERIODIC_TASK_NAME).interval.every == 24
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    env |= {
        "DATABASE_URL": suite_database_url(),
        "SCANPULSE_DATA_DIR": str(tmp_path / "data"),
        "SCANPULSE_OSV_SYNC_INTERVAL_HOURS": "6",
    }
    celery = str(Path(sys.executable).with_name("celery"))
    beat = subprocess.Popen(
        [
            celery,
            "--app",
            "scanpulse.config.celery_app",
            "beat",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            task = PeriodicTask.objects.get(name=PERIODIC_TASK_NAME)
            if task.interval.every == 6:
                break
            time.sleep(0.2)
        assert (task.task, task.interval.every, task.interval.period, task.enabled) == (
            SYNC_FEED_TASK,
            6,
            "hours",
            True,
        )
    finally:
        beat.terminate()
        beat.wait(timeout=10)
