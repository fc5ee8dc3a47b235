"""A project's access to its repository: the credential it fetches with (its own, or one of
its organization's), and the SSH host keys pinned for it. Owners and admins only."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction

from scanpulse.core.exceptions import Invalid
from scanpulse.credentials.models import Credential
from scanpulse.credentials.services import credential_create, credential_delete
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import Project


@transaction.atomic
def project_credential_create(*, user: User, project: Project, **fields: str) -> Credential:
    """Give the project a credential of its own (replacing the one it had) and use it."""
    credential = credential_create(
        user=user,
        organization=project.organization,
        project_id=project.pk,
        name=f"{project.name}",
        **fields,
    )
    project.credential = credential
    project.save(update_fields=["credential", "updated_at"])
    return credential


@transaction.atomic
def project_credential_use(*, user: User, project: Project, credential_id: UUID | None) -> None:
    """Use one of the organization's credentials (``None``: none, a public repository). A
    credential of another organization is unknown here, as are other projects' own."""
    require_member(
        user=user, organization_id=project.organization_id, action=Action.CREDENTIAL_MANAGE
    )
    credential = None
    if credential_id is not None:
        credential = Credential.objects.filter(
            pk=credential_id, organization_id=project.organization_id, project_id__isnull=True
        ).first()
        if credential is None:
            message = "No credential of this organization has that id."
            raise Invalid(message, fields={"credential": [message]})
    own = Credential.objects.filter(project_id=project.pk).first()
    project.credential = credential
    project.save(update_fields=["credential", "updated_at"])
    if own is not None:
        credential_delete(user=user, credential=own)


@transaction.atomic
def project_credential_remove(*, user: User, project: Project) -> None:
    """The project fetches without credentials again; its own credential is deleted."""
    project_credential_use(user=user, project=project, credential_id=None)
