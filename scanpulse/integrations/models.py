"""An organization's inbound webhook: its secret (sealed at rest) and the deliveries received,
which are also how a delivery sent twice is recognised."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from scanpulse.core.crypto import register_sealed
from scanpulse.core.models import UUIDModel
from scanpulse.tenancy.models import Organization

from .parsers import Host


class InboundSecret(models.Model):
    """The secret every host's webhook of the organization signs with (one per organization;
    the URL says which organization and host, never the secret). Stored sealed
    (``scanpulse.core.crypto``); shown once, when generated."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    sealed_secret = models.TextField()
    rotated_at = models.DateTimeField(default=timezone.now)
    rotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"inbound secret of {self.organization_id}"


register_sealed("integrations.InboundSecret", "sealed_secret")


class Outcome(models.TextChoices):
    STARTED = "started", "Scan started"
    DUPLICATE = "duplicate", "Already scanned"
    IGNORED = "ignored", "Ignored"
    REFUSED = "refused", "Refused: queue full"


class Delivery(UUIDModel):
    """One verified delivery and what came of it. Unsigned or wrongly signed requests are
    answered 401 and not recorded (anyone could fill the table with them)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    host = models.CharField(max_length=10, choices=[(host.value, host.label) for host in Host])
    # The host's id of the delivery (empty if it sent none): a redelivery repeats it.
    delivery_id = models.CharField(max_length=200, blank=True, default="")
    event = models.CharField(max_length=100)
    repository = models.CharField(max_length=500, blank=True, default="")
    ref = models.CharField(max_length=255, blank=True, default="")
    commit = models.CharField(max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True, default="")
    # The scans it started or found already there (ids; several projects may share a
    # repository).
    scans = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "host", "delivery_id"],
                condition=~models.Q(delivery_id=""),
                name="unique_inbound_delivery",
            )
        ]

    def __str__(self) -> str:
        return f"{self.host} {self.event} {self.delivery_id} ({self.outcome})"
