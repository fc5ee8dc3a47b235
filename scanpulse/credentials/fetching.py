"""What a worker hands the pipeline for one fetch: the project's credential, unsealed just
before the fetch, with the host keys pinned for the project."""

from __future__ import annotations

from uuid import UUID

from scanpulse.core.crypto import unseal
from scanpulse.pipeline.auth import GitAuth

from .models import Credential, CredentialKind
from .selectors import host_key_pins
from .services import credential_used, host_keys_learned


def git_auth_for(
    *, credential: Credential | None, organization_id: UUID, project_id: UUID, project_name: str
) -> GitAuth | None:
    """``None`` for a project without a credential (a public repository)."""
    if credential is None:
        return None
    if credential.organization_id != organization_id:
        return None  # never another organization's (the services refuse to link one anyway)
    label = (
        f"project '{project_name}'"
        if credential.project_id is not None
        else f"credential '{credential.name}'"
    )
    known_hosts = ""
    if credential.kind == CredentialKind.SSH_KEY:
        known_hosts = "".join(
            pin.known_hosts_line() + "\n" for pin in host_key_pins(project_id=project_id)
        )
    credential_used(credential_id=credential.pk)

    def pin(seen: str) -> None:
        host_keys_learned(organization_id=organization_id, project_id=project_id, known_hosts=seen)

    return GitAuth(
        kind=credential.kind,
        label=label,
        secret=unseal(credential.secret),
        username=credential.username,
        known_hosts=known_hosts,
        on_new_host_key=pin,
    )
