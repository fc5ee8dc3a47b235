"""Recorded webhook payloads (``tests/fixtures/webhooks``) and deliveries signed with real
HMACs, sent through Django's test client to the real endpoint."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from scanpulse.integrations.parsers import Host
from scanpulse.integrations.verification import sign
from tests.support.data import fixture_data

EVENT_HEADER = {
    Host.GITHUB: "X-GitHub-Event",
    Host.GITLAB: "X-Gitlab-Event",
    Host.GITEA: "X-Gitea-Event",
}
DELIVERY_HEADER = {
    Host.GITHUB: "X-GitHub-Delivery",
    Host.GITLAB: "X-Gitlab-Event-UUID",
    Host.GITEA: "X-Gitea-Delivery",
}


def payload(name: str) -> dict[str, Any]:
    """A recorded payload, as a dict a test may change before sending."""
    data: dict[str, Any] = json.loads(fixture_data("webhooks", f"{name}.json").read_text())
    return data


def deliver(
    organization_id: Any,
    host: Host,
    event: str,
    body: dict[str, Any] | bytes,
    *,
    secret: str,
    delivery: str = "",
    client: Client | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST ``body`` to the organization's ``host`` URL as the host would, signed with
    ``secret``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {EVENT_HEADER[host]: event, **sign(host, secret, raw)}
    if delivery:
        sent[DELIVERY_HEADER[host]] = delivery
    sent.update(headers or {})
    return (client or Client()).post(
        f"/hooks/{organization_id}/{host.value}",
        data=raw,
        content_type="application/json",
        headers=sent,
    )


def rotate(tenant: Any) -> str:
    """A new inbound secret of the tenant's organization, as its owner gets it."""
    answer = tenant.client.post(f"/api/organizations/{tenant.org.pk}/inbound-webhooks/secret")
    assert answer.status_code == 201, answer.content
    secret: str = answer.json()["secret"]
    return secret
