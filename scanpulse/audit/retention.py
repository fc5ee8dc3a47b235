"""Removing entries older than ``SCANPULSE_AUDIT_RETENTION_DAYS`` (run by housekeeping): the
only path that deletes audit entries."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import router
from django.utils import timezone

from .models import AuditEntry


def audit_purge(*, now: object = None) -> int:
    """Delete the entries past the retention period; how many went. 0 days keeps all."""
    days = int(getattr(settings, "SCANPULSE_AUDIT_RETENTION_DAYS", 365))
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)  # type: ignore[operator]
    old = AuditEntry.objects.filter(created_at__lt=cutoff)
    # The queryset's delete() refuses; the retention job alone removes rows, without signals.
    return int(old._raw_delete(using=router.db_for_write(AuditEntry)))
