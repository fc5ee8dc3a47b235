"""Reading the audit log of an organization, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from .models import AuditEntry


def audit_entries(
    *,
    organization_id: UUID,
    actor: str = "",
    action: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    entries: Any = AuditEntry.objects.filter(organization_id=organization_id)
    if actor:
        entries = entries.filter(actor__iexact=actor.strip())
    if action:
        entries = entries.filter(action=action.strip())
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    return entries.order_by("-created_at", "-id")
