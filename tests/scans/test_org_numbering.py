"""The org stream under many concurrent writers: what a reader following it sees.

On PostgreSQL an append commits its insert first and numbers it in the org stream just after
(``scanpulse.scans.log``); these tests hold the promise readers rely on: numbers 1..N with no
gap, each event once, every scan's events in its own order, and never a number that appears
below one a reader has already read.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event, number_pending_events, read_events, read_org_events
from scanpulse.scans.models import Scan, ScanEvent
from scanpulse.scans.signals import event_committed
from scanpulse.scans.types import Event
from scanpulse.tenancy.models import Organization

EVENTS_PER_WRITER = 30


def writer_count() -> int:
    # SQLite takes one writer at a time whatever the count (and times out a waiting one
    # under load): the concurrency this is about is PostgreSQL's.
    return 16 if connection.vendor == "postgresql" else 6


@pytest.fixture
def scans(tenant, tmp_path) -> list[Scan]:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return [
        Scan.objects.create(project=project, organization=tenant.org, ref="main")
        for _ in range(writer_count() // 2)
    ]


class Follower(threading.Thread):
    """A reader of the org stream as the stream endpoints replay it: ``org_seq > cursor``."""

    def __init__(self, org_id: Any, done: threading.Event) -> None:
        super().__init__()
        self.org_id = org_id
        self.done = done
        self.seen: list[Event] = []
        self.problems: list[str] = []

    def run(self) -> None:
        cursor = 0
        try:
            while True:
                finished = self.done.is_set()
                batch = read_org_events(org_id=self.org_id, after=cursor, limit=100)
                for event in batch:
                    if event.org_seq != cursor + 1:
                        self.problems.append(f"after {cursor} came {event.org_seq}")
                    cursor = event.org_seq
                self.seen.extend(batch)
                if finished and not batch:
                    break
                if not batch:
                    time.sleep(0.002)
        finally:
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_followers_see_every_number_once_in_order_while_many_scans_append(scans) -> None:
    org_id = scans[0].organization_id
    published: list[Event] = []
    failures: list[BaseException] = []

    def on_committed(sender: Any, event: Event, **kwargs: Any) -> None:
        published.append(event)

    event_committed.connect(on_committed, dispatch_uid="test-org-numbering")

    def writer(scan: Scan, number: int) -> None:
        try:
            for index in range(EVENTS_PER_WRITER):
                if number % 4 == 0 and index % 5 == 0:
                    # As a service does (scan creation, cancellation): inside its own
                    # transaction, holding the organization's row (the queue lock) first.
                    with transaction.atomic():
                        Organization.objects.select_for_update(no_key=True).filter(
                            pk=org_id
                        ).values_list("pk").first()
                        append_event(scan_id=scan.id, kind="status", data={"index": index})
                else:
                    append_event(
                        scan_id=scan.id,
                        kind="progress",
                        data={"progress": index},
                        snapshot={"progress": index},
                    )
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    done = threading.Event()
    followers = [Follower(org_id, done) for _ in range(3)]
    writers = [
        threading.Thread(target=writer, args=(scans[n % len(scans)], n))
        for n in range(writer_count())
    ]
    try:
        for thread in [*followers, *writers]:
            thread.start()
        for thread in writers:
            thread.join()
        done.set()
        for follower in followers:
            follower.join()
    finally:
        event_committed.disconnect(dispatch_uid="test-org-numbering")

    assert failures == []
    total = writer_count() * EVENTS_PER_WRITER
    # The whole stream, read at the end: 1..total, each event once.
    final = read_org_events(org_id=org_id, after=0, limit=total + 10)
    assert [event.org_seq for event in final] == list(range(1, total + 1))
    identity = {event.org_seq: (event.scan_id, event.seq) for event in final}
    for follower in followers:
        # Every follower read each number once, in order, and what it read under a number is
        # what the number still means: nothing was filled in below its cursor later.
        assert follower.problems == []
        assert [(e.org_seq, e.scan_id, e.seq) for e in follower.seen] == [
            (number, *identity[number]) for number in range(1, total + 1)
        ]
    # Each scan's events keep the scan's order within the org stream, and its own stream is
    # 1..n.
    per_scan: dict[str, list[int]] = {}
    for event in final:
        per_scan.setdefault(event.scan_id, []).append(event.seq)
    for scan in scans:
        seqs = per_scan[str(scan.id)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [e.seq for e in read_events(scan_id=scan.id, after=0, limit=1000)] == seqs
    # The head readers resume against, and what the live edge was told.
    assert Organization.objects.get(pk=org_id).last_event_seq == total
    assert sorted(event.org_seq for event in published) == list(range(1, total + 1))
    assert {event.org_seq: (event.scan_id, event.seq) for event in published} == identity


@pytest.mark.django_db(transaction=True)
def test_an_append_interrupted_before_numbering_is_numbered_by_the_next_or_housekeeping(
    scans,
) -> None:
    scan = scans[0]
    first = append_event(scan_id=scan.id, kind="log", data={"message": "one"})
    # given: an event whose append stopped after its insert committed (a killed worker)
    with transaction.atomic():
        Scan.objects.filter(pk=scan.pk).update(last_event_seq=2)
        ScanEvent.objects.create(
            scan_id=scan.id, organization_id=scan.organization_id, seq=2, org_seq=None, kind="log"
        )
    # then: org readers do not see it yet, the scan's readers do
    assert [e.org_seq for e in read_org_events(org_id=scan.organization_id, after=0)] == [1]
    assert [e.seq for e in read_events(scan_id=scan.id, after=0)] == [1, 2]
    # when: housekeeping numbers what is left (PostgreSQL; elsewhere nothing is ever left,
    # so the next append numbers it)
    if connection.vendor == "postgresql":
        assert number_pending_events() == 1
        assert number_pending_events() == 0
    third = append_event(scan_id=scan.id, kind="log", data={"message": "three"})
    # then: the stream is 1, 2, 3 in scan order
    events = read_org_events(org_id=scan.organization_id, after=0)
    assert [(e.org_seq, e.seq) for e in events] == [(1, 1), (2, 2), (3, 3)]
    assert (first.org_seq, third.org_seq) == (1, 3)
