"""Writes of credentials and pinned host keys. Every one checks the caller's role
(``Action.CREDENTIAL_MANAGE``: owners and admins), but for what a scan records itself (a host
key seen first, when a credential was last used)."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.crypto import seal
from scanpulse.core.exceptions import Conflict, Invalid
from scanpulse.pipeline.auth import host_key_lines, ssh_fingerprint
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .keys import generate_key_pair, load_private_key, token_fingerprint
from .models import Credential, CredentialKind, HostKeyPin

# What git's prompts and the askpass helper may carry: no quotes, no shell characters.
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,255}$")
_MAX_SECRET_CHARS = 16 * 1024
_KEY_TYPE = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$")


def _require(*, user: User, organization_id: UUID) -> None:
    require_member(user=user, organization_id=organization_id, action=Action.CREDENTIAL_MANAGE)


def _field_error(field: str, message: str) -> Invalid:
    return Invalid(message, fields={field: [message]})


@transaction.atomic
def credential_create(
    *,
    user: User,
    organization: Organization,
    name: str,
    kind: str,
    username: str = "",
    token: str = "",
    private_key: str = "",
    project_id: UUID | None = None,
) -> Credential:
    """A new credential, its secret sealed. An SSH key is generated unless ``private_key`` is
    given (its public half is then shown, to be added to the git host as a deploy key).
    ``project_id`` makes it that project's own (replacing the one it had)."""
    _require(user=user, organization_id=organization.pk)
    name = name.strip()
    if not name:
        raise _field_error("name", "A name is required.")
    if kind == CredentialKind.HTTPS_TOKEN:
        if not token or len(token) > _MAX_SECRET_CHARS or any(c in token for c in "\r\n\0"):
            raise _field_error("token", "A token (one line) is required.")
        if not _USERNAME.match(username or ""):
            raise _field_error(
                "username",
                "A username is required (letters, digits and . _ @ + -); for a GitHub or "
                "GitLab token any name works, e.g. 'oauth2' or 'x-access-token'.",
            )
        secret, fingerprint, public_key = token, token_fingerprint(token), ""
    elif kind == CredentialKind.SSH_KEY:
        if username:
            raise _field_error("username", "An SSH key has no username: it is in the URL.")
        comment = f"scanpulse-{name}".replace(" ", "-")
        if private_key:
            if len(private_key) > _MAX_SECRET_CHARS:
                raise _field_error("private_key", "The private key is too long.")
            try:
                pair = load_private_key(private_key, comment)
            except ValueError as exc:
                raise _field_error("private_key", str(exc)) from None
        else:
            pair = generate_key_pair(comment)
        secret, fingerprint, public_key = pair.private_key, pair.fingerprint, pair.public_key
    else:
        raise _field_error("kind", "The kind must be https_token or ssh_key.")
    if project_id is not None:
        Credential.objects.filter(project_id=project_id).delete()
    credential = Credential(
        organization=organization,
        project_id=project_id,
        kind=kind,
        name=name,
        username=username,
        secret=seal(secret),
        fingerprint=fingerprint,
        public_key=public_key,
        created_by=user,
    )
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError:
        raise _field_error(
            "name", "The organization already has a credential with this name."
        ) from None
    _audit(user, organization.pk, "create", credential.name, credential.pk, kind=kind)
    return credential


def _audit(
    user: User, organization_id: UUID, change: str, name: str, target: Any, **extra: Any
) -> None:
    """An audit entry for a change of credentials or pins (names and fingerprints only)."""
    record(
        action=AuditAction.CREDENTIAL_CHANGE,
        actor=user,
        organization_id=organization_id,
        target_type="credential",
        target_id=target,
        target=name,
        details={"change": change, **extra},
    )


def credential_delete(*, user: User, credential: Credential, in_use: int = 0) -> None:
    """Remove a credential and its sealed secret. ``in_use``: how many projects use it (an
    organization's credential in use is refused: its projects would lose access)."""
    _require(user=user, organization_id=credential.organization_id)
    if in_use:
        raise Conflict(
            f"The credential is used by {in_use} project{'s' if in_use != 1 else ''}: "
            "choose another for them first."
        )
    with transaction.atomic():
        _audit(user, credential.organization_id, "delete", credential.name, credential.pk)
        credential.delete()


def credential_used(*, credential_id: UUID) -> None:
    Credential.objects.filter(pk=credential_id).update(last_used_at=timezone.now())


def host_keys_learned(*, organization_id: UUID, project_id: UUID, known_hosts: str) -> None:
    """Pin the host keys a fetch saw first (trust on first use); keys pinned meanwhile stay."""
    for host, key_type, key in host_key_lines(known_hosts):
        if not _KEY_TYPE.match(key_type):
            continue
        HostKeyPin.objects.get_or_create(
            project_id=project_id,
            host=host,
            key_type=key_type,
            defaults={
                "organization_id": organization_id,
                "public_key": key,
                "fingerprint": ssh_fingerprint(key),
            },
        )


def host_keys_reset(*, user: User, organization_id: UUID, project_id: UUID) -> int:
    """Forget the project's pinned host keys: the next fetch trusts the key it sees."""
    _require(user=user, organization_id=organization_id)
    with transaction.atomic():
        deleted, _ = HostKeyPin.objects.filter(project_id=project_id).delete()
        _audit(user, organization_id, "host_keys_reset", "", project_id, project=str(project_id))
    return deleted


@transaction.atomic
def host_key_set(
    *, user: User, organization_id: UUID, project_id: UUID, host: str, public_key: str
) -> HostKeyPin:
    """Pin ``public_key`` (``<type> <base64>``, as ``ssh-keyscan`` prints it after the host)
    for ``host`` by hand, replacing what was pinned for it."""
    _require(user=user, organization_id=organization_id)
    parts = public_key.split()
    if len(parts) < 2 or not _KEY_TYPE.match(parts[0]):
        raise _field_error(
            "public_key",
            "Give the host's public key as '<type> <base64>', e.g. 'ssh-ed25519 AAAA…'.",
        )
    try:
        fingerprint = ssh_fingerprint(parts[1])
    except ValueError:
        raise _field_error("public_key", "The key is not valid base64.") from None
    if not re.match(r"^(\[[A-Za-z0-9.:_-]+\]:\d+|[A-Za-z0-9._-]+)$", host):
        raise _field_error("host", "Give the host as 'name' or '[name]:port'.")
    HostKeyPin.objects.filter(project_id=project_id, host=host).delete()
    _audit(
        user,
        organization_id,
        "host_key_pin",
        host,
        project_id,
        project=str(project_id),
        fingerprint=fingerprint,
    )
    return HostKeyPin.objects.create(
        organization_id=organization_id,
        project_id=project_id,
        host=host,
        key_type=parts[0],
        public_key=parts[1],
        fingerprint=fingerprint,
    )


def project_credentials_forget(*, project_id: UUID) -> None:
    """A deleted project's own credential and pinned host keys go with it."""
    Credential.objects.filter(project_id=project_id).delete()
    HostKeyPin.objects.filter(project_id=project_id).delete()
