"""An organization's own identity provider: set, changed and removed by its owners (the settings
page) or by the operator (``manage.py org``), recorded in the audit log without the secret."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.crypto import seal
from scanpulse.core.exceptions import Invalid

from .models import Organization, OrganizationSso, Role
from .permissions import Action, require_member
from .sso import check_url
from .types import User


def organization_sso_set(
    *,
    organization: Organization,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str = "openid email profile",
    default_role: str = Role.MEMBER,
    actor: User | None = None,
) -> OrganizationSso:
    """Give an organization its own provider, or change it (the client secret sealed at rest;
    an empty ``client_secret`` keeps the stored one). ``actor``: the owner doing it from the
    settings page (None: the operator's command). Recorded in the audit log, without
    the secret."""
    if actor is not None:
        require_member(user=actor, organization_id=organization.pk, action=Action.SSO_MANAGE)
    check_url(issuer, server_side=False)
    if default_role not in Role.values:
        raise Invalid(f"Unknown role {default_role!r}; use one of {', '.join(Role.values)}.")
    scopes = " ".join(scopes.split()) or "openid email profile"
    if "openid" not in scopes.split():
        raise Invalid("The scopes must include openid.")
    with transaction.atomic():
        current = (
            OrganizationSso.objects.select_for_update().filter(organization=organization).first()
        )
        if not client_id.strip() or not (client_secret or current is not None):
            raise Invalid("A client id and a client secret are needed.")
        values = {
            "issuer": issuer.rstrip("/"),
            "client_id": client_id.strip(),
            "scopes": scopes,
            "default_role": default_role,
        }
        if client_secret:
            values["client_secret"] = seal(client_secret)
        row, created = OrganizationSso.objects.update_or_create(
            organization=organization, defaults=values
        )
        changed = sorted(
            key
            for key in ("issuer", "client_id", "scopes", "default_role")
            if current is None or getattr(current, key) != values[key]
        )
        _record_change(
            actor,
            organization,
            row.pk,
            row.issuer,
            {
                "change": "set" if created else "update",
                "changed": changed,
                "client_secret_replaced": bool(client_secret),
            },
        )
    return row


def organization_sso_remove(*, organization: Organization, actor: User | None = None) -> bool:
    if actor is not None:
        require_member(user=actor, organization_id=organization.pk, action=Action.SSO_MANAGE)
    with transaction.atomic():
        current = OrganizationSso.objects.filter(organization=organization).first()
        if current is None:
            return False
        row_id = current.pk
        current.delete()
        _record_change(actor, organization, row_id, current.issuer, {"change": "remove"})
    return True


def _record_change(
    actor: User | None,
    organization: Organization,
    row_id: Any,
    issuer: str,
    details: dict[str, Any],
) -> None:
    """The audit entry of a change to an organization's provider (never its secret); without
    ``actor``, the operator's command made it."""
    record(
        action=AuditAction.SSO_CHANGE,
        actor=actor,
        actor_label="" if actor is not None else "command line",
        organization_id=organization.pk,
        target_type="sso",
        target_id=row_id,
        target=issuer,
        details=details,
    )
