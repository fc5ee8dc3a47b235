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
