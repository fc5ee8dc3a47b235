"""Reads of credentials and pinned host keys, scoped to the caller's organizations. They
return the rows; what leaves the server is only their metadata (``apis``), never the secret."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from scanpulse.core.exceptions import NotFound
from scanpulse.tenancy.models import Membership
from scanpulse.tenancy.selectors import membership_of
from scanpulse.tenancy.types import User

from .models import Credential, HostKeyPin


def member_of(*, user: User, organization_id: UUID) -> Membership:
    """The caller's membership, or 404: an organization one is not in does not exist."""
    membership = membership_of(user=user, organization_id=organization_id)
    if membership is None:
        raise NotFound("Organization not found.")
    return membership


def organization_credentials(*, user: User, organization_id: UUID) -> QuerySet[Credential]:
    """The organization's shared credentials (those projects may reference)."""
    member_of(user=user, organization_id=organization_id)
    return Credential.objects.filter(
        organization_id=organization_id, project_id__isnull=True
    ).select_related("created_by")


def organization_credential_get(
    *, user: User, organization_id: UUID, credential_id: UUID | str
) -> Credential:
    credential = (
        organization_credentials(user=user, organization_id=organization_id)
        .filter(pk=credential_id)
        .first()
    )
    if credential is None:
        raise NotFound("Credential not found.")
    return credential


def project_own_credential(*, project_id: UUID) -> Credential | None:
    return Credential.objects.filter(project_id=project_id).select_related("created_by").first()


def host_key_pins(*, project_id: UUID) -> QuerySet[HostKeyPin]:
    return HostKeyPin.objects.filter(project_id=project_id)
