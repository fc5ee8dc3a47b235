"""The durable per-scan event log."""

from django.db import models
from django.utils import timezone

from scanpulse.scans.models import Scan
from scanpulse.tenancy.models import Organization


class ScanEvent(models.Model):
    """One event of a scan, numbered 1, 2, 3… per scan (``seq``) and per organization
    (``org_seq``); both numbers are allocated under row locks, so commit order equals number
    order and readers never see a later number before an earlier one."""

    id = models.BigAutoField(primary_key=True)
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="events")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    org_seq = models.BigIntegerField()
    kind = models.CharField(max_length=20)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "seq"], name="unique_scan_event_seq"),
            models.UniqueConstraint(
                fields=["organization", "org_seq"], name="unique_org_event_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scan_id}#{self.seq} {self.kind}"
