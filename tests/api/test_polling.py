"""Polling, interchangeable with streaming: the snapshot with its ETag, and the events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event, purge_expired_events
from scanpulse.scans.models import Scan
from scanpulse.scans.services import scan_finish


@pytest.fixture
def scan(tenant, tmp_path) -> Scan:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="running"
    )


def test_status_answers_304_until_something_happens(tenant, scan) -> None:
    first = tenant.client.get(f"/api/scans/{scan.id}/status")
    assert first.status_code == 200 and first["ETag"]
    unchanged = tenant.client.get(f"/api/scans/{scan.id}/status", HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304 and unchanged["ETag"] == first["ETag"]

    append_event(scan_id=scan.id, kind="progress", data={"progress": 40}, snapshot={"progress": 40})

    changed = tenant.client.get(f"/api/scans/{scan.id}/status", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    body = changed.json()
    assert (body["progress"], body["status"], body["last_event_id"]) == (40, "running", 1)


def test_events_page_through_with_the_stream_numbers(tenant, scan) -> None:
    for index in range(7):
        append_event(scan_id=scan.id, kind="log", data={"message": f"m{index}"})
    scan_finish(scan_id=scan.id, status="completed", message="done")

    page = tenant.client.get(f"/api/scans/{scan.id}/events?after=0&limit=3").json()
    assert [e["seq"] for e in page["events"]] == [1, 2, 3]
    assert (page["last_event_id"], page["terminal"], page["reset"]) == (8, True, False)
    rest = tenant.client.get(f"/api/scans/{scan.id}/events?after=3&limit=100").json()
    assert [e["seq"] for e in rest["events"]] == [4, 5, 6, 7, 8]
    assert rest["events"][-1]["kind"] == "completed"
    assert set(rest["events"][0]) == {"scan", "seq", "kind", "time", "data"}
    nothing = tenant.client.get(f"/api/scans/{scan.id}/events?after=8").json()
    assert nothing["events"] == [] and nothing["terminal"] is True


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=501"])
def test_bad_positions_are_400(tenant, scan, query: str) -> None:
    response = tenant.client.get(f"/api/scans/{scan.id}/events?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    "after",
    [
        "%C2%B2",
        "%D9%A3",
        "%EF%BC%93",
        "%2B3",
        "1_0",
        "3.0",
        "%203",
        "3%20",
        "",
        "4611686018427387905",
    ],
)
def test_positions_are_ascii_digits_as_on_the_streams(tenant, scan, after: str) -> None:
    append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    response = tenant.client.get(f"/api/scans/{scan.id}/events?after={after}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]["after"] == ["An event number: decimal digits 0-9."]


def test_the_largest_position_is_one_never_reached(tenant, scan) -> None:
    append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    page = tenant.client.get(f"/api/scans/{scan.id}/events?after={2**62}").json()
    assert page["reset"] is True and page["snapshot"]["last_event_id"] == 1


def test_positions_outside_the_log_get_a_reset_with_the_snapshot(tenant, scan) -> None:
    append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    future = tenant.client.get(f"/api/scans/{scan.id}/events?after=50").json()
    assert future["reset"] is True and future["snapshot"]["last_event_id"] == 1

    scan_finish(scan_id=scan.id, status="completed", message="done")
    Scan.objects.filter(pk=scan.pk).update(finished_at=timezone.now() - timedelta(days=2))
    purge_expired_events(retention=timedelta(hours=24))
    purged = tenant.client.get(f"/api/scans/{scan.id}/events?after=0").json()
    assert purged["reset"] is True and purged["events"] == []
    assert purged["snapshot"]["status"] == "completed"


def test_the_scan_carries_its_last_event_id(tenant, scan, tmp_path) -> None:
    append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    assert tenant.client.get(f"/api/scans/{scan.id}/").json()["last_event_id"] == 1
    project = tenant.client.post(
        "/api/projects/", {"name": "q", "repo_url": str(tmp_path)}, format="json"
    ).json()
    created = tenant.client.post("/api/scans/", {"project": project["id"]}, format="json").json()
    assert created["last_event_id"] == 1 and created["status"] == "pending"
