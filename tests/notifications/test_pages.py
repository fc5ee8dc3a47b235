"""The organization's webhook pages: add one (the secret shown once), the delivery log with
redelivery, the notice of an endpoint disabled after failures and enabling it again; owners
and admins only, another organization's pages not found."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from scanpulse.core.crypto import unseal
from scanpulse.notifications.models import Delivery, Endpoint
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


def browser(tenant: Any, role: str | None = None) -> Client:
    client = Client()
    if role is None:
        user = tenant.user
    else:
        user = user_create(
            email=f"{role}@acme.example", organization=tenant.org, role=role, password=PASSWORD
        )
    assert client.login(username=user.username, password=PASSWORD)
    return client


def add(client: Client, tenant: Any, **fields: Any) -> Any:
    data = {
        "name": "chat",
        "url": "https://hooks.example.com/services/T1/B2/tokenVALUE",
        "events": ["scan.failed", "alert.new"],
        "format": "slack",
        "min_severity": "medium",
        **fields,
    }
    return client.post(f"/organizations/{tenant.org.id}/webhooks/", data)


def test_adding_a_webhook_shows_its_secret_once(tenant) -> None:
    client = browser(tenant)
    listing = client.get("/")
    assert f'href="/organizations/{tenant.org.id}/webhooks/"' in listing.content.decode()

    response = add(client, tenant)
    assert response.status_code == 201
    page = response.content.decode()
    endpoint = Endpoint.objects.get()
    secret = unseal(endpoint.secret_sealed)
    assert "shown this once" in page and secret in page
    assert response["Cache-Control"] == "no-store"
    assert "tokenVALUE" not in page and "https://hooks.example.com/services/…" in page

    later = client.get(f"/organizations/{tenant.org.id}/webhooks/{endpoint.id}/").content.decode()
    listed = client.get(f"/organizations/{tenant.org.id}/webhooks/").content.decode()
    for shown in (later, listed):
        assert secret not in shown and "tokenVALUE" not in shown
    assert "chat" in listed and "Enabled" in listed


def test_a_refused_address_is_shown_on_the_form(tenant) -> None:
    client = browser(tenant)
    response = client.post(
        f"/organizations/{tenant.org.id}/webhooks/",
        {"name": "internal", "url": "http://127.0.0.1:8080/hook", "events": ["scan.failed"]},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The webhook&#x27;s host could not be reached or is not allowed on this server." in page
    assert "This field is required" not in page  # format and severity have defaults
    assert not Endpoint.objects.exists()


def test_the_delivery_log_redelivery_and_the_disabled_notice(tenant) -> None:
    client = browser(tenant)
    add(client, tenant)
    endpoint = Endpoint.objects.get()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event="scan.failed",
        event_id=endpoint.id,
        body="{}",
        state="failed",
        attempts=3,
        response_status=502,
        response_body="bad gateway",
        duration_ms=12,
        error="The receiver answered 502.",
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False,
        disabled_at=timezone.now(),
        disabled_reason="Disabled after 20 failed deliveries in a row (the last: Timed out.)",
        consecutive_failures=20,
    )
    url = f"/organizations/{tenant.org.id}/webhooks/{endpoint.id}/"
    page = client.get(url).content.decode()
    assert "This webhook was disabled" in page
    assert "Disabled after 20 failed deliveries in a row (the last: Timed out.)" in page
    assert "The receiver answered 502." in page and "bad gateway" in page and "12 ms" in page

    redo = client.post(f"{url}deliveries/{delivery.id}/redeliver")
    assert redo.status_code == 302
    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert again.redelivery_of_id == delivery.id and again.body == delivery.body

    enabled = client.post(f"{url}enable", follow=True).content.decode()
    assert "Webhook enabled." in enabled and "This webhook was disabled" not in enabled
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == 0

    rotated = client.post(f"{url}rotate-secret")
    endpoint.refresh_from_db()
    assert unseal(endpoint.secret_sealed) in rotated.content.decode()

    client.post(f"{url}delete")
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_other_roles_are_refused(tenant, role) -> None:
    add(browser(tenant), tenant)
    endpoint = Endpoint.objects.get()
    client = browser(tenant, role)
    assert client.get(f"/organizations/{tenant.org.id}/webhooks/").status_code == 403
    assert add(client, tenant, name="mine").status_code == 403
    url = f"/organizations/{tenant.org.id}/webhooks/{endpoint.id}/"
    assert client.get(url).status_code == 403
    assert client.post(f"{url}delete").status_code == 403
    assert Endpoint.objects.count() == 1


def test_another_organizations_webhooks_are_not_found(tenant, other_tenant) -> None:
    add(browser(other_tenant), other_tenant)
    theirs = Endpoint.objects.get()
    client = browser(tenant)
    assert client.get(f"/organizations/{other_tenant.org.id}/webhooks/").status_code == 404
    for url in (
        f"/organizations/{other_tenant.org.id}/webhooks/{theirs.id}/",
        f"/organizations/{tenant.org.id}/webhooks/{theirs.id}/",
    ):
        assert client.get(url).status_code == 404
        assert client.post(f"{url}delete").status_code == 404
    assert Endpoint.objects.count() == 1
