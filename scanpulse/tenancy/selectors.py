"""Reads of organizations, memberships and API tokens, shared by the API, pages and streams."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from .models import AccessChange, ApiToken, Invitation, Membership, Organization
from .types import User


def organization_list(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name")


def _with_scope(membership: Membership | None, user: User) -> Membership | None:
    """The membership, carrying the scope of the token the user authenticated with (None for
    a browser session), which ``permissions.require`` checks with the role."""
    if membership is not None:
        membership.token_scope = getattr(user, "token_scope", None)  # type: ignore[attr-defined]
    return membership


def membership_get(*, user: User, organization: Organization) -> Membership | None:
    membership = Membership.objects.filter(user=user, organization=organization).first()
    return _with_scope(membership, user)


def membership_of(*, user: User, organization_id: UUID) -> Membership | None:
    membership = Membership.objects.filter(user=user, organization_id=organization_id).first()
    return _with_scope(membership, user)


def members_of(*, organization_id: UUID) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization_id=organization_id)
        .select_related("user")
        .order_by("user__email")
    )


def invitations_pending(*, organization_id: UUID) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization_id=organization_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-created_at")


def tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def tokens_valid() -> QuerySet[ApiToken]:
    """The tokens that authenticate: not revoked, not expired, of an active user."""
    return ApiToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        revoked_at__isnull=True,
        user__is_active=True,
    )


def access_generation() -> tuple[int, int]:
    """Where the log of access changes stands (``AccessChange``), as ``(rows, last id)``: it
    differs from an earlier reading once any change committed since, one whose id was
    allocated before the last id read included (ids are handed out before commit, so the last
    id alone could miss it). Pruning changes it too, which costs one needless re-read."""
    found = AccessChange.objects.aggregate(rows=Count("id"), last=Max("id"))
    return int(found["rows"]), int(found["last"] or 0)
