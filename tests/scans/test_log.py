"""The event log: numbers without gaps, snapshots in step, retention."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event, purge_expired_events, read_events, read_org_events
from scanpulse.scans.models import Scan


@pytest.fixture
def scans(tenant, tmp_path) -> list[Scan]:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return [
        Scan.objects.create(project=project, organization=tenant.org, ref="main") for _ in range(3)
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_leave_gaps(scans) -> None:
    # given: several threads appending to several scans of one organization at once
    def writer(scan: Scan, count: int) -> None:
        try:
            for index in range(count):
                append_event(scan_id=scan.id, kind="log", data={"message": f"line {index}"})
        finally:
            connection.close()  # not left open for the test database's teardown

    threads = [threading.Thread(target=writer, args=(scan, 40)) for scan in scans for _ in range(2)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: each scan counts 1..80, the organization 1..240, in commit order
    for scan in scans:
        assert [e.seq for e in read_events(scan_id=scan.id, after=0, limit=1000)] == list(
            range(1, 81)
        )
        scan.refresh_from_db()
        assert scan.last_event_seq == 80
    org_events = read_org_events(org_id=scans[0].organization_id, after=0, limit=1000)
    assert [e.org_seq for e in org_events] == list(range(1, 241))
    per_scan: dict[str, list[int]] = {}
    for event in org_events:
        per_scan.setdefault(event.scan_id, []).append(event.seq)
    assert all(seqs == sorted(seqs) for seqs in per_scan.values())


@pytest.mark.django_db(transaction=True)
def test_snapshot_changes_with_its_event(scans) -> None:
    scan = scans[0]
    event = append_event(
        scan_id=scan.id,
        kind="step",
        data={"step": "Detecting secrets", "progress": 40},
        snapshot={"step": "Detecting secrets", "progress": 40},
    )
    scan.refresh_from_db()
    assert (scan.step, scan.progress, scan.last_event_seq) == ("Detecting secrets", 40, event.seq)


@pytest.mark.django_db(transaction=True)
def test_a_failed_transaction_consumes_no_number(scans) -> None:
    from django.db import transaction

    scan = scans[0]
    append_event(scan_id=scan.id, kind="log", data={"message": "one"})
    with pytest.raises(RuntimeError), transaction.atomic():
        append_event(scan_id=scan.id, kind="log", data={"message": "rolled back"})
        raise RuntimeError
    append_event(scan_id=scan.id, kind="log", data={"message": "two"})
    events = read_events(scan_id=scan.id, after=0)
    assert [(e.seq, e.data["message"]) for e in events] == [(1, "one"), (2, "two")]


def test_unknown_kinds_and_fields_are_refused(scans) -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        append_event(scan_id=scans[0].id, kind="surprise", data={})
    with pytest.raises(ValueError, match="not snapshot fields"):
        append_event(scan_id=scans[0].id, kind="log", data={}, snapshot={"project": None})


@pytest.mark.django_db(transaction=True)
def test_retention_purges_finished_scans_and_records_the_watermark(scans) -> None:
    old, recent, running = scans
    for scan in scans:
        for index in range(3):
            append_event(scan_id=scan.id, kind="log", data={"message": str(index)})
    long_ago = timezone.now() - timedelta(days=2)
    Scan.objects.filter(pk=old.pk).update(status="completed", finished_at=long_ago)
    Scan.objects.filter(pk=recent.pk).update(status="completed", finished_at=timezone.now())

    purged = purge_expired_events(retention=timedelta(hours=24))

    assert purged == 3
    assert read_events(scan_id=old.id, after=0) == []
    assert len(read_events(scan_id=recent.id, after=0)) == 3
    assert len(read_events(scan_id=running.id, after=0)) == 3
    old.refresh_from_db()
    old.organization.refresh_from_db()
    assert old.events_purged_at is not None
    assert old.organization.events_purged_through == 3  # old's events were org numbers 1-3


@pytest.mark.django_db(transaction=True)
def test_nul_characters_are_stored_as_replacement_characters(scans) -> None:
    # PostgreSQL cannot store NUL in text or JSON; files under scan can contain anything.
    append_event(scan_id=scans[0].id, kind="log", data={"message": "a\x00b", "k\x00": ["\x00"]})
    (event,) = read_events(scan_id=scans[0].id, after=0)
    assert event.data == {"message": "a\ufffdb", "k\ufffd": ["\ufffd"]}
