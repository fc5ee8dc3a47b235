"""The event log's model moved from the events app to scans, its table unchanged: a database
created before the move keeps its events, read through the new model."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from scanpulse.scans.log import read_events
from scanpulse.scans.models import ScanEvent

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = [("scans", "0004_scan_scheduling_index"), ("events", "0001_initial")]


def test_events_logged_before_the_move_are_read_after_it(tenant, tmp_path) -> None:
    # given: the database as it was before the move, with one event in the events app's table
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE_THE_MOVE)
        old = MigrationExecutor(connection).loader.project_state(BEFORE_THE_MOVE).apps
        applied = MigrationRecorder(connection).applied_migrations()
        assert ("scans", "0005_scanevent") not in applied
        assert ("events", "0002_scanevent_moved_to_scans") not in applied
        project = old.get_model("projects", "Project").objects.create(
            organization_id=tenant.org.pk, name="p", repo_url=str(tmp_path)
        )
        scan = old.get_model("scans", "Scan").objects.create(
            project_id=project.pk, organization_id=tenant.org.pk, ref="main", last_event_seq=1
        )
        old.get_model("events", "ScanEvent").objects.create(
            scan_id=scan.pk,
            organization_id=tenant.org.pk,
            seq=1,
            org_seq=1,
            kind="log",
            data={"message": "logged before the move"},
            created_at=timezone.now(),
        )
    finally:
        # when: migrating forward
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    # then: the event is there, through the new model and through the log
    row = ScanEvent.objects.get(scan_id=scan.pk)
    assert (row.seq, row.org_seq, row.kind, row.data) == (
        1,
        1,
        "log",
        {"message": "logged before the move"},
    )
    assert [event.data["message"] for event in read_events(scan_id=scan.pk, after=0)] == [
        "logged before the move"
    ]
    assert ScanEvent._meta.db_table == "events_scanevent"
