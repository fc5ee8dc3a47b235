"""Webhook endpoints of an organization and their deliveries (the delivery log)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from scanpulse.core.models import UUIDModel
from scanpulse.tenancy.models import Organization

from .events import SEVERITY_CHOICES, Format


class Endpoint(UUIDModel):
    """Where an organization's events are sent. The destination may itself be a credential (a
    chat's incoming-webhook address): it is stored sealed like the signing secret, and shown
    with its path and query hidden (``url_shown``)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    name = models.CharField(max_length=100)
    url_sealed = models.TextField()
    url_shown = models.CharField(max_length=300)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.JSON)
    events = models.JSONField(default=list)
    min_severity = models.CharField(max_length=10, choices=SEVERITY_CHOICES, default="high")
    secret_sealed = models.TextField()
    enabled = models.BooleanField(default=True)
    # Set when deliveries failed too often in a row (``SCANPULSE_WEBHOOK_DISABLE_AFTER``).
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url_shown})"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # waiting for its next attempt (``next_attempt_at``)
    DELIVERED = "delivered"
    FAILED = "failed"  # out of attempts, or its endpoint was disabled


class Delivery(models.Model):
    """One event sent to one endpoint: its id is the ``X-Scanpulse-Delivery`` header, the same
    for every attempt; the body is built once, so every attempt sends the same bytes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    event_id = models.UUIDField()
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # An attempt in progress holds the delivery until then (a worker that died mid-attempt
    # lets it go at that time).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    # Sent even though its endpoint is disabled (a test, a redelivery asked for by hand), once.
    forced = models.BooleanField(default=False)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]
