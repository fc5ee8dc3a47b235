"""What is loaded, from where, how fresh: the Advisories page (linked from the header) and
``GET /api/advisories/``, read-only for every signed-in member, nothing for anyone else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from scanpulse.advisories.models import FeedState
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import token_create, user_create

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='t')[1]}")
    return client


def test_the_api_shows_each_ecosystem_with_its_freshness(
    sync, feed, feed_settings, tenant, go_records
) -> None:
    feed_settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS = 6
    sync("Go")
    feed.put("npm", b"not a zip")
    sync("npm")

    answer = tenant.client.get("/api/advisories/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["dataset"]["from_feed"] is True
    assert body["dataset"]["records"] == len(go_records)
    assert body["sync_interval_hours"] == 6
    rows = {row["ecosystem"]: row for row in body["ecosystems"]}
    assert list(rows) == ["Go", "npm"]
    go = FeedState.objects.get(ecosystem="Go")
    assert rows["Go"] == {
        "ecosystem": "Go",
        "records": len(go_records),
        "last_checked_at": go.last_checked_at.isoformat().replace("+00:00", "Z"),
        "last_changed_at": go.last_changed_at.isoformat().replace("+00:00", "Z"),
        "source_url": f"{feed.base_url}/Go/all.zip",
        "last_error": None,
        "problem_count": 0,
        "problems": [],
        "synced": True,
    }
    assert rows["npm"]["records"] == 0 and rows["npm"]["last_changed_at"] is None
    assert "not a valid OSV export" in rows["npm"]["last_error"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.OWNER])
def test_every_member_reads_and_nobody_writes(tenant, role) -> None:
    user = user_create(email=f"{role}@x.example", organization=tenant.org, role=role)
    client = _api(user)
    assert client.get("/api/advisories/").status_code == 200
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)("/api/advisories/", {}).status_code == 405


def test_an_account_without_an_organization_and_signed_out_requests_see_nothing(
    tenant, anonymous
) -> None:
    loner = get_user_model().objects.create_user(username="loner", email="loner@x.example")
    assert _api(loner).get("/api/advisories/").status_code == 404
    assert anonymous.get("/api/advisories/").status_code == 401
    page = Client()
    page.force_login(loner)
    assert page.get("/advisories/").status_code == 404
    assert Client().get("/advisories/").status_code == 302  # to the sign-in page


def test_the_page_is_linked_from_the_header_and_shows_the_table(
    sync, feed, tenant, go_records
) -> None:
    sync("Go")
    viewer = user_create(email="v@x.example", organization=tenant.org, role=Role.VIEWER)
    browser = Client()
    browser.force_login(viewer)

    home = browser.get("/").content.decode()
    assert 'href="/advisories/"' in home
    page = browser.get("/advisories/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "OSV.dev ecosystem exports" in html
    assert f"{feed.base_url}/Go/all.zip" in html
    assert f"<td>{len(go_records)}</td>" in html
    assert "never" in html  # npm was never checked
    assert "<form" not in html.split("<main")[1]  # read-only
    assert browser.post("/advisories/").status_code == 405


def test_what_an_export_could_not_use_is_counted_and_shown(sync, feed, tenant) -> None:
    """A partial bound that names one release is read as it ("introduced": "1.0" is 1.0.0);
    one that does not ("last_affected": "2.1", a listed "3.0") is counted and shown, never
    guessed (docs/dependencies.md)."""
    from tests.support.osv_feed import export_zip

    def record(osv_id: str, affected: dict) -> dict:
        return {
            "id": osv_id,
            "modified": "2026-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, **affected}],
        }

    events = [{"introduced": "1.0"}, {"fixed": "1.3"}]
    feed.put(
        "npm",
        export_zip(
            {
                "GHSA-read-0001": record(
                    "GHSA-read-0001", {"ranges": [{"type": "ECOSYSTEM", "events": events}]}
                ),
                "GHSA-open-0002": record(
                    "GHSA-open-0002",
                    {
                        "ranges": [
                            {
                                "type": "ECOSYSTEM",
                                "events": [{"introduced": "2.0.0"}, {"last_affected": "2.1"}],
                            }
                        ]
                    },
                ),
                "GHSA-list-0003": record("GHSA-list-0003", {"versions": ["3.0"]}),
            }
        ),
    )
    sync("npm")

    row = next(
        row
        for row in tenant.client.get("/api/advisories/").json()["ecosystems"]
        if row["ecosystem"] == "npm"
    )
    assert row["problem_count"] == 2
    assert sorted(row["problems"]) == [
        "all.zip:GHSA-list-0003.json: affected[0].versions[0]: '3.0' is a partial version (a "
        "release line, not a published version); not matched (left-pad)",
        "all.zip:GHSA-open-0002.json: affected[0].ranges[0].events[1]: last_affected '2.1' is "
        "a partial version, which names no single SemVer version here; range ignored (left-pad)",
    ]
    browser = Client()
    browser.force_login(tenant.user)
    page = browser.get("/advisories/").content.decode()
    assert "2 problems" in page and "last_affected &#x27;2.1&#x27; is a partial version" in page

    from scanpulse.advisories.matching import advisory_affects
    from scanpulse.advisories.models import AdvisoryRecord
    from scanpulse.advisories.osv import Advisory

    loaded = [
        Advisory.from_dict(row.record)
        for row in AdvisoryRecord.objects.filter(dataset__is_active=True, name="left-pad")
    ]
    assert len(loaded) == 3
    found = {
        version: sorted(
            advisory.id
            for advisory in loaded
            if advisory_affects(advisory, "npm", "left-pad", version)
        )
        for version in ("0.9.9", "1.0.0", "1.2.9", "1.3.0", "2.1.0", "3.0.0")
    }
    assert found == {
        "0.9.9": [],
        "1.0.0": ["GHSA-read-0001"],
        "1.2.9": ["GHSA-read-0001"],
        "1.3.0": [],
        "2.1.0": [],
        "3.0.0": [],
    }
