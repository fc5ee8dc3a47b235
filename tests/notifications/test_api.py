"""The webhook API: owners and admins manage an organization's endpoints; the secret is
shown once; destinations obey the SSRF rules; another organization's webhooks are a 404."""

from __future__ import annotations

import re
from typing import Any

import pytest

from scanpulse.core.crypto import unseal
from scanpulse.notifications.models import Delivery, Endpoint
from scanpulse.notifications.services import endpoint_create
from scanpulse.tenancy.models import Role
from tests.alerts.conftest import client_for
from tests.notifications.routes import WEBHOOK_ROUTES

pytestmark = pytest.mark.django_db

SLACK_LIKE = "https://hooks.example.com/services/T000/B000/abcdefSECRETtoken"


def _fill(route: str, ids: dict[str, Any]) -> str:
    return "/" + re.sub(r"<uuid:(\w+)>", lambda m: str(ids[m.group(1)]), route)


def _call(client: Any, method: str, route: str, body: Any, ids: dict[str, Any]) -> Any:
    path = _fill(route, ids)
    if body is None:
        return client.generic(method, path)
    return getattr(client, method.lower())(path, body, format="json")


def _webhook(tenant: Any, **extra: Any) -> dict[str, Any]:
    endpoint, _secret = endpoint_create(
        user=tenant.user,
        organization_id=tenant.org.id,
        name="ci",
        url=extra.pop("url", "https://hooks.example.com/ci/abc"),
        events=extra.pop("events", ["scan.failed"]),
        **extra,
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint, event="ping", event_id=endpoint.id, body="{}", state="delivered"
    )
    return {
        "organization_id": tenant.org.id,
        "webhook_id": endpoint.id,
        "delivery_id": delivery.id,
    }


def test_creating_shows_the_secret_once_and_stores_it_sealed(tenant) -> None:
    response = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/",
        {
            "name": "chat",
            "url": SLACK_LIKE,
            "events": ["scan.completed", "alert.new"],
            "format": "slack",
            "min_severity": "medium",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert body["url"] == "https://hooks.example.com/services/…"
    assert body["events"] == ["scan.completed", "alert.new"]
    assert (body["format"], body["min_severity"], body["enabled"]) == ("slack", "medium", True)

    endpoint = Endpoint.objects.get(pk=body["id"])
    assert secret not in endpoint.secret_sealed and "SECRETtoken" not in endpoint.url_sealed
    assert unseal(endpoint.secret_sealed) == secret and unseal(endpoint.url_sealed) == SLACK_LIKE

    again = tenant.client.get(f"/api/organizations/{tenant.org.id}/webhooks/{body['id']}/")
    listed = tenant.client.get(f"/api/organizations/{tenant.org.id}/webhooks/")
    for answer in (again, listed):
        assert answer.status_code == 200
        assert secret not in answer.content.decode()
        assert "SECRETtoken" not in answer.content.decode()
    assert "secret" not in again.json()


def test_rotating_the_secret_shows_the_new_one_once(tenant) -> None:
    ids = _webhook(tenant)
    endpoint = Endpoint.objects.get(pk=ids["webhook_id"])
    old = unseal(endpoint.secret_sealed)
    response = tenant.client.post(_fill(WEBHOOK_ROUTES[5][1], ids))
    assert response.status_code == 200
    new = response.json()["secret"]
    endpoint.refresh_from_db()
    assert new != old and unseal(endpoint.secret_sealed) == new


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",  # a name resolving to a loopback address
        "https://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0x7f000001/hook",
    ],
)
def test_private_destinations_are_refused_without_the_operators_allow_list(tenant, url) -> None:
    response = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/",
        {"name": "internal", "url": url, "events": ["scan.failed"]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["fields"]["url"] == [
        "The webhook's host could not be reached or is not allowed on this server."
    ]
    assert not Endpoint.objects.exists()


def test_the_allow_list_admits_loopback_but_never_metadata(tenant, settings) -> None:
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.0/8", "169.254.0.0/16"]
    base = f"/api/organizations/{tenant.org.id}/webhooks/"
    ok = tenant.client.post(
        base,
        {"name": "a", "url": "http://127.0.0.1:9/x", "events": ["scan.failed"]},
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    metadata = tenant.client.post(
        base,
        {"name": "b", "url": "http://169.254.169.254/x", "events": ["scan.failed"]},
        format="json",
    )
    assert metadata.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "url": "ftp://hooks.example.com/x", "events": ["scan.failed"]}, "url"),
        (
            {"name": "x", "url": "https://user:pw@hooks.example.com/x", "events": ["scan.failed"]},
            "url",
        ),
        (
            {"name": "x", "url": "https://hooks.example.com/x", "events": ["scan.exploded"]},
            "events",
        ),
        ({"name": "x", "url": "https://hooks.example.com/x", "events": []}, "events"),
        (
            {
                "name": "x",
                "url": "https://hooks.example.com/x",
                "events": ["scan.failed"],
                "format": "teams",
            },
            "format",
        ),
    ],
)
def test_invalid_endpoints_are_refused_naming_the_field(tenant, body, field) -> None:
    response = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/", body, format="json"
    )
    assert response.status_code == 400
    assert field in {key.split(".")[0] for key in response.json()["error"]["fields"]}
    assert "pw" not in response.content.decode()


def test_advisory_matched_may_be_chosen_ahead_of_its_first_delivery(tenant) -> None:
    response = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/",
        {"name": "later", "url": "https://hooks.example.com/x", "events": ["advisory.matched"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["events"] == ["advisory.matched"]


@pytest.mark.parametrize(("method", "route", "body"), WEBHOOK_ROUTES)
def test_another_organizations_webhooks_answer_404(
    tenant, other_tenant, method, route, body
) -> None:
    theirs = _webhook(other_tenant)
    before = (Endpoint.objects.count(), Delivery.objects.count(), Endpoint.objects.get().name)
    response = _call(tenant.client, method, route, body, theirs)
    assert response.status_code == 404, (route, response.content)
    assert (Endpoint.objects.count(), Delivery.objects.count(), Endpoint.objects.get().name) == (
        before
    )
    if "webhook_id" in route:  # their webhook under our organization's path is unknown too
        mixed = {**theirs, "organization_id": tenant.org.id}
        assert _call(tenant.client, method, route, body, mixed).status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
@pytest.mark.parametrize(("method", "route", "body"), WEBHOOK_ROUTES)
def test_only_owners_and_admins_see_and_manage_webhooks(tenant, role, method, route, body) -> None:
    ids = _webhook(tenant)
    client = client_for(tenant, f"{role}@acme.example", role)
    before = (Endpoint.objects.count(), Delivery.objects.count(), Endpoint.objects.get().name)
    response = _call(client, method, route, body, ids)
    assert response.status_code == 403, (route, response.content)
    assert response.json()["error"]["code"] == "permission_denied"
    assert (Endpoint.objects.count(), Delivery.objects.count(), Endpoint.objects.get().name) == (
        before
    )


def test_an_admin_manages_webhooks(tenant) -> None:
    ids = _webhook(tenant)
    admin = client_for(tenant, "admin@acme.example", Role.ADMIN)
    assert _call(admin, "GET", WEBHOOK_ROUTES[0][1], None, ids).json()[0]["name"] == "ci"
    renamed = _call(admin, "PATCH", WEBHOOK_ROUTES[3][1], {"name": "builds"}, ids)
    assert renamed.status_code == 200 and renamed.json()["name"] == "builds"
    deliveries = _call(admin, "GET", WEBHOOK_ROUTES[7][1], None, ids).json()
    assert [item["id"] for item in deliveries["results"]] == [str(ids["delivery_id"])]
    assert _call(admin, "DELETE", WEBHOOK_ROUTES[4][1], None, ids).status_code == 204
    assert not Endpoint.objects.exists()
