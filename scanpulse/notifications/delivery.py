"""Sending deliveries: queueing one, an attempt, retries with exponential back-off, and
disabling an endpoint that keeps failing.

An attempt first claims its delivery with one conditional update (pending, due, not held by
another attempt), so a timer, a Celery message, a redelivered message and the housekeeping
sweep may all ask for the same delivery and it is still sent once per attempt. The claim holds
it for the request's time-out and a margin: a worker that dies mid-attempt lets it go then,
and the sweep attempts it again (same ``X-Scanpulse-Delivery``, so a receiver that had got it
can tell).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from scanpulse.core.crypto import SealError, unseal

from . import destinations, transport
from .dispatch import get_dispatcher
from .formatters import render
from .models import Delivery, DeliveryState, Endpoint
from .signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

USER_AGENT = "scanpulse-webhooks/1"
CLAIM_MARGIN_SECONDS = 30
# Due deliveries the sweep hands out per housekeeping run at most.
SWEEP_BATCH = 500
UNSEALABLE = (
    "The endpoint's address and secret cannot be decrypted with the server's keys "
    "(SCANPULSE_ENCRYPTION_KEYS); ask the operator."
)


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: the base, doubled each time,
    at most ``SCANPULSE_WEBHOOK_RETRY_MAX_SECONDS``."""
    base = float(settings.SCANPULSE_WEBHOOK_RETRY_BASE_SECONDS)
    delay: float = base * 2 ** max(attempts - 1, 0)
    return min(delay, float(settings.SCANPULSE_WEBHOOK_RETRY_MAX_SECONDS))


def queue(*, endpoint: Endpoint, event: str, payload: dict[str, Any], **extra: Any) -> Delivery:
    """A new delivery of ``payload`` to ``endpoint``, attempted once the caller's transaction
    commits."""
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event=event,
        event_id=payload["id"],
        body=render(endpoint.format, payload).decode(),
        next_attempt_at=timezone.now(),
        **extra,
    )
    delivery_id = delivery.id
    transaction.on_commit(lambda: get_dispatcher().submit(delivery_id))
    return delivery


def _claim(delivery_id: UUID | str, now: datetime) -> Delivery | None:
    hold = now + timedelta(
        seconds=settings.SCANPULSE_WEBHOOK_TIMEOUT_SECONDS * 2 + CLAIM_MARGIN_SECONDS
    )
    claimed = Delivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=delivery_id,
        state=DeliveryState.PENDING,
        next_attempt_at__lte=now,
    ).update(claimed_until=hold, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    return Delivery.objects.select_related("endpoint", "endpoint__organization").get(pk=delivery_id)


def attempt(delivery_id: UUID | str) -> Delivery | None:
    """Make the next attempt of a delivery if it is due and no other attempt holds it (else
    nothing: None). Records the outcome, and schedules the next attempt or gives up."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled and not delivery.forced:
        _record(delivery, state=DeliveryState.FAILED, error="The endpoint is disabled.")
        return delivery
    try:
        destination = destinations.parse(unseal(endpoint.url_sealed))
        secret = unseal(endpoint.secret_sealed)
        addresses = destinations.check(destination)
    except destinations.DestinationRefused as exc:
        response = transport.Response(None, "", str(exc), 0)
    except SealError:
        logger.error("webhook endpoint %s: its secrets cannot be decrypted", endpoint.pk)
        response = transport.Response(None, "", UNSEALABLE, 0)
    else:
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Scanpulse-Event": delivery.event,
            "X-Scanpulse-Delivery": str(delivery.id),
            "X-Scanpulse-Attempt": str(delivery.attempts),
            SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
        }
        response = transport.post(
            destination,
            addresses,
            body=body,
            headers=headers,
            timeout=settings.SCANPULSE_WEBHOOK_TIMEOUT_SECONDS,
        )
    _outcome(delivery, response)
    return delivery


def _outcome(delivery: Delivery, response: transport.Response) -> None:
    endpoint = delivery.endpoint
    shown = {
        "response_status": response.status,
        "response_body": response.body,
        "duration_ms": response.duration_ms,
        "error": response.error[:500],
    }
    if response.ok:
        _record(delivery, state=DeliveryState.DELIVERED, **shown)
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return
    disabled = _count_failure(endpoint, response)
    if disabled or delivery.attempts >= settings.SCANPULSE_WEBHOOK_MAX_ATTEMPTS:
        _record(delivery, state=DeliveryState.FAILED, **shown)
        return
    delay = retry_delay(delivery.attempts)
    due = timezone.now() + timedelta(seconds=delay)
    _record(delivery, state=DeliveryState.PENDING, next_attempt_at=due, **shown)
    get_dispatcher().submit(delivery.id, delay=delay)


def _record(delivery: Delivery, **fields: Any) -> None:
    fields.setdefault("next_attempt_at", None)
    fields["claimed_until"] = None
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def _count_failure(endpoint: Endpoint, response: transport.Response) -> bool:
    """One more failure in a row; True if the endpoint is disabled now (or already was)."""
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if locked is None:  # deleted meanwhile, its deliveries with it
            return True
        locked.consecutive_failures += 1
        fields = ["consecutive_failures"]
        limit = settings.SCANPULSE_WEBHOOK_DISABLE_AFTER
        if locked.enabled and limit and locked.consecutive_failures >= limit:
            locked.enabled = False
            locked.disabled_at = timezone.now()
            last = response.error or "no answer"
            locked.disabled_reason = (
                f"Disabled after {locked.consecutive_failures} failed deliveries in a row "
                f"(the last: {last})"
            )[:500]
            fields += ["enabled", "disabled_at", "disabled_reason"]
            logger.warning(
                "webhook endpoint %s of organization %s disabled after %d failed deliveries "
                "in a row",
                locked.pk,
                locked.organization_id,
                locked.consecutive_failures,
            )
        locked.save(update_fields=fields)
    endpoint.consecutive_failures = locked.consecutive_failures
    endpoint.enabled = locked.enabled
    return not locked.enabled


def sweep_due(*, now: datetime | None = None) -> int:
    """Hand out the deliveries that are due and that no attempt holds: their timer or message
    was lost (a restart, a broker without its data). Run by housekeeping."""
    now = now or timezone.now()
    due = (
        Delivery.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now
            - timedelta(seconds=settings.SCANPULSE_WEBHOOK_SWEEP_GRACE_SECONDS),
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    handed = 0
    dispatcher = get_dispatcher()
    for delivery_id in due:
        dispatcher.submit(delivery_id)
        handed += 1
    if handed:
        logger.info("webhooks: %d due deliveries handed out again", handed)
    return handed
