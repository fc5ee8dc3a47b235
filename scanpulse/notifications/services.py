"""Writes for webhooks: endpoints (owners and admins), a test message, redelivery, and the
deliveries that the scans' and alerts' signals cause (``receivers``)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.crypto import seal
from scanpulse.core.exceptions import Invalid
from scanpulse.tenancy.types import User

from . import destinations
from .delivery import queue
from .dispatch import get_dispatcher
from .events import EVENTS, PING, SEVERITY_CHOICES, Format
from .models import Delivery, DeliveryState, Endpoint
from .payloads import envelope
from .selectors import webhook_organization
from .signing import new_secret

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_ORG = 50


def _audit(user: User, endpoint: Endpoint, change: str, **details: Any) -> None:
    """An audit entry for a change of a webhook (its shown address, never the secret)."""
    record(
        action=AuditAction.WEBHOOK_CHANGE,
        actor=user,
        organization_id=endpoint.organization_id,
        target_type="webhook",
        target_id=endpoint.pk,
        target=endpoint.name,
        details={"change": change, **details},
    )


def _checked_url(url: str) -> str:
    try:
        destination = destinations.parse(url)
        destinations.check(destination, unresolved_ok=True)
    except destinations.DestinationRefused as exc:
        raise Invalid(str(exc), fields={"url": [str(exc)]}) from None
    return url


def _checked_events(events: Collection[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        message = f"Unknown events: {', '.join(unknown)}; choose among {', '.join(EVENTS)}."
        raise Invalid(message, fields={"events": [message]})
    if not events:
        message = "Choose at least one event."
        raise Invalid(message, fields={"events": [message]})
    return [event for event in EVENTS if event in events]


def _checked_choice(field: str, value: str, choices: Collection[str]) -> str:
    if value not in choices:
        message = f"Choose one of: {', '.join(choices)}."
        raise Invalid(message, fields={field: [message]})
    return value


def endpoint_create(
    *,
    user: User,
    organization_id: Any,
    name: str,
    url: str,
    events: Collection[str],
    format: str = Format.JSON,
    min_severity: str = "high",
) -> tuple[Endpoint, str]:
    """A new endpoint, and its signing secret: shown this once, stored sealed."""
    organization = webhook_organization(user=user, organization_id=organization_id)
    if Endpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS_PER_ORG:
        raise Invalid(f"An organization may have at most {MAX_ENDPOINTS_PER_ORG} webhooks.")
    secret = new_secret()
    endpoint = Endpoint.objects.create(
        organization=organization,
        name=name,
        url_sealed=seal(_checked_url(url)),
        url_shown=destinations.shown(url),
        format=_checked_choice("format", format, Format.values),
        events=_checked_events(events),
        min_severity=_checked_choice(
            "min_severity", min_severity, [value for value, _ in SEVERITY_CHOICES]
        ),
        secret_sealed=seal(secret),
        created_by=user,
    )
    logger.info("webhook endpoint %s created in organization %s", endpoint.pk, organization.pk)
    _audit(user, endpoint, "create", url=endpoint.url_shown)
    return endpoint, secret


def endpoint_update(*, user: User, endpoint: Endpoint, **changes: Any) -> Endpoint:
    """Change ``name``, ``url``, ``events``, ``format``, ``min_severity`` or ``enabled``.
    Enabling an endpoint that was disabled after failures clears its notice and count."""
    webhook_organization(user=user, organization_id=endpoint.organization_id)
    fields: list[str] = []
    if "name" in changes:
        endpoint.name = changes["name"]
        fields.append("name")
    if "url" in changes:
        endpoint.url_sealed = seal(_checked_url(changes["url"]))
        endpoint.url_shown = destinations.shown(changes["url"])
        fields += ["url_sealed", "url_shown"]
    if "events" in changes:
        endpoint.events = _checked_events(changes["events"])
        fields.append("events")
    if "format" in changes:
        endpoint.format = _checked_choice("format", changes["format"], Format.values)
        fields.append("format")
    if "min_severity" in changes:
        endpoint.min_severity = _checked_choice(
            "min_severity", changes["min_severity"], [value for value, _ in SEVERITY_CHOICES]
        )
        fields.append("min_severity")
    if "enabled" in changes:
        endpoint.enabled = bool(changes["enabled"])
        fields.append("enabled")
        if endpoint.enabled:
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            endpoint.consecutive_failures = 0
            fields += ["disabled_at", "disabled_reason", "consecutive_failures"]
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
        _audit(user, endpoint, "update", fields=sorted(changes))
    return endpoint


def endpoint_delete(*, user: User, endpoint: Endpoint) -> None:
    webhook_organization(user=user, organization_id=endpoint.organization_id)
    logger.info(
        "webhook endpoint %s deleted in organization %s", endpoint.pk, endpoint.organization_id
    )
    _audit(user, endpoint, "delete")
    endpoint.delete()


def endpoint_rotate_secret(*, user: User, endpoint: Endpoint) -> str:
    """A new signing secret, in force at once (shown this once): attempts from now on, retries
    included, are signed with it."""
    webhook_organization(user=user, organization_id=endpoint.organization_id)
    secret = new_secret()
    endpoint.secret_sealed = seal(secret)
    endpoint.save(update_fields=["secret_sealed", "updated_at"])
    logger.info("webhook endpoint %s: signing secret rotated", endpoint.pk)
    _audit(user, endpoint, "rotate_secret")
    return secret


def endpoint_test(*, user: User, endpoint: Endpoint) -> Delivery:
    """Send a ``ping`` event now (whatever the endpoint subscribes to; a disabled endpoint
    too, so that it can be checked before it is enabled again)."""
    organization = webhook_organization(user=user, organization_id=endpoint.organization_id)
    payload = envelope(
        event=PING,
        organization=organization,
        data={
            "endpoint": {"id": str(endpoint.id), "name": endpoint.name},
            "message": "A test message from scanpulse: this endpoint receives webhooks.",
        },
    )
    with transaction.atomic():
        # A disabled endpoint gets no events; a test is sent to it all the same, once.
        return queue(endpoint=endpoint, event=PING, payload=payload, forced=not endpoint.enabled)


def delivery_redeliver(*, user: User, delivery: Delivery) -> Delivery:
    """Send a delivery's event again as a new delivery (a new ``X-Scanpulse-Delivery``, the
    same body and event ``id``), whatever became of the first."""
    endpoint = delivery.endpoint
    webhook_organization(user=user, organization_id=endpoint.organization_id)
    with transaction.atomic():
        again = Delivery.objects.create(
            endpoint=endpoint,
            event=delivery.event,
            event_id=delivery.event_id,
            body=delivery.body,
            next_attempt_at=timezone.now(),
            redelivery_of=delivery,
            forced=not endpoint.enabled,
        )
        _submit_on_commit(again)
    return again


def _submit_on_commit(delivery: Delivery) -> None:
    delivery_id = delivery.id
    transaction.on_commit(lambda: get_dispatcher().submit(delivery_id))


def pending_count(endpoint: Endpoint) -> int:
    return Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING).count()
