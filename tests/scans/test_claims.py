"""Which waiting scan a free slot runs when several slots free at the same moment."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from scanpulse.projects.models import Project
from scanpulse.scans import claims
from scanpulse.scans.models import Scan

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_slots_freeing_together_go_to_both_organizations(
    tenant, other_tenant, monkeypatch
) -> None:
    # given: nothing runs; organization A has waited longest with two scans, B with one
    a = Project.objects.create(organization=tenant.org, name="a", repo_url="/srv/a")
    b = Project.objects.create(organization=other_tenant.org, name="b", repo_url="/srv/b")
    a_first, a_second = (
        Scan.objects.create(project=a, organization=a.organization, ref="main") for _ in "12"
    )
    b_scan = Scan.objects.create(project=b, organization=b.organization, ref="main")

    # when: two slots ask at once, and the first is slow to start the scan it chose
    second_claim_done = threading.Event()
    start_locked = claims._start_locked
    paused = []

    def slow_start(scan: Scan, *, attempt_limit: int) -> Scan | None:
        if not paused:
            paused.append(scan.pk)
            # the other slot would decide meanwhile, were nothing keeping it out
            second_claim_done.wait(timeout=1.0)
        return start_locked(scan, attempt_limit=attempt_limit)

    monkeypatch.setattr(claims, "_start_locked", slow_start)
    claimed: dict[str, object] = {}

    def claim(name: str) -> None:
        try:
            started = claims.scan_claim_next(attempt_limit=3)
            claimed[name] = started.pk if started else None
        finally:
            if name == "second":
                second_claim_done.set()
            connection.close()

    first = threading.Thread(target=claim, args=("first",))
    first.start()
    while not paused:
        threading.Event().wait(0.01)
    second = threading.Thread(target=claim, args=("second",))
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)

    # then: the first slot runs A's oldest scan, the second B's (it has nothing running),
    # not A's second one
    assert claimed == {"first": a_first.pk, "second": b_scan.pk}
    assert Scan.objects.get(pk=a_second.pk).status == "pending"
