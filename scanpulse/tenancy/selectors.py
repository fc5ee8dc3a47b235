"""Reads of organizations, memberships and API tokens, shared by the API, pages and streams."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from .models import ApiToken, Membership, Organization
from .types import User


def organization_list(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name")


def membership_get(*, user: User, organization: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, organization=organization).first()


def membership_of(*, user: User, organization_id: UUID) -> Membership | None:
    return Membership.objects.filter(user=user, organization_id=organization_id).first()


def tokens_valid() -> QuerySet[ApiToken]:
    """The tokens that authenticate: not revoked, of an active user."""
    return ApiToken.objects.filter(revoked_at__isnull=True, user__is_active=True)
