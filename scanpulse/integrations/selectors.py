"""Reads of the inbound webhooks, for owners and admins of the organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import Delivery, InboundSecret
from .parsers import Host

RECENT_DELIVERIES = 50


@dataclass(frozen=True, slots=True)
class InboundOverview:
    organization_id: UUID
    has_secret: bool
    rotated_at: datetime | None
    rotated_by: str | None
    deliveries: list[Delivery]


def hook_path(organization_id: UUID, host: Host) -> str:
    """The path of the organization's webhook URL for ``host`` (it carries no secret)."""
    return f"/hooks/{organization_id}/{host.value}"


def inbound_overview(*, user: User, organization_id: UUID) -> InboundOverview:
    """The organization's inbound webhook: whether a secret is set (never the secret) and the
    latest deliveries. ``NotFound`` for non-members, ``Forbidden`` below admin."""
    require_member(user=user, organization_id=organization_id, action=Action.INBOUND_WEBHOOK_VIEW)
    secret = (
        InboundSecret.objects.filter(organization_id=organization_id)
        .select_related("rotated_by")
        .first()
    )
    deliveries = list(
        Delivery.objects.filter(organization_id=organization_id).order_by("-created_at")[
            :RECENT_DELIVERIES
        ]
    )
    return InboundOverview(
        organization_id=organization_id,
        has_secret=secret is not None,
        rotated_at=None if secret is None else secret.rotated_at,
        rotated_by=(
            None if secret is None or secret.rotated_by is None else secret.rotated_by.email
        ),
        deliveries=deliveries,
    )
