"""Writing the audit log: ``record``, called by every service that does something
security-relevant, once its change is made (inside its transaction when it has one, so an
entry exists exactly when the change does)."""

from __future__ import annotations

from typing import Any

from django.db import models

from .context import current_address
from .models import AuditEntry


class AuditAction(models.TextChoices):
    SIGN_IN = "auth.sign_in", "Signed in"
    SIGN_IN_FAILED = "auth.sign_in_failed", "Sign-in failed"
    SIGN_OUT = "auth.sign_out", "Signed out"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", "Password reset requested"
    PASSWORD_RESET = "auth.password_reset", "Password reset"
    TWO_FACTOR_ENABLE = "auth.two_factor_enable", "Two-factor turned on"
    TWO_FACTOR_DISABLE = "auth.two_factor_disable", "Two-factor turned off"
    TWO_FACTOR_FAILED = "auth.two_factor_failed", "Wrong two-factor code"
    RECOVERY_CODES_REGENERATE = "auth.recovery_codes_regenerate", "Recovery codes replaced"
    RECOVERY_CODE_USE = "auth.recovery_code_use", "Recovery code used"
    TOKEN_CREATE = "token.create", "Token created"
    TOKEN_REVOKE = "token.revoke", "Token revoked"
    MEMBER_INVITE = "member.invite", "Member invited"
    MEMBER_INVITE_REVOKE = "member.invite_revoke", "Invitation withdrawn"
    MEMBER_JOIN = "member.join", "Invitation accepted"
    MEMBER_ROLE_CHANGE = "member.role_change", "Role changed"
    MEMBER_REMOVE = "member.remove", "Member removed"
    CREDENTIAL_CHANGE = "credential.change", "Credential changed"
    WEBHOOK_CHANGE = "webhook.change", "Webhook changed"
    INBOUND_SECRET_ROTATE = "inbound.secret_rotate", "Inbound webhook secret generated"
    SCHEDULE_CHANGE = "schedule.change", "Schedule changed"
    ALERT_TRIAGE = "alert.triage", "Alert triaged"
    PROJECT_SETTINGS = "project.settings", "Project settings changed"
    SARIF_UPLOAD = "scan.sarif_upload", "SARIF report uploaded"
    SSO_CHANGE = "sso.change", "Single sign-on changed"
    AUDIT_RETENTION = "audit.retention", "Audit entries removed by retention"


def _actor(user: Any) -> tuple[int | None, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return None, ""
    return user.pk, (getattr(user, "email", "") or getattr(user, "username", ""))[:254]


def record(
    *,
    action: AuditAction | str,
    actor: Any = None,
    organization_id: Any = None,
    target_type: str = "",
    target_id: Any = "",
    target: str = "",
    details: dict[str, Any] | None = None,
    address: str | None = None,
    actor_label: str = "",
) -> AuditEntry:
    """Add one entry. ``address`` defaults to the current request's client address.
    ``details`` must never hold a secret: names, kinds, roles, fingerprints only."""
    actor_id, label = _actor(actor)
    return AuditEntry.objects.create(
        action=str(action),
        actor_id=actor_id,
        actor=label or actor_label[:254],
        organization_id=organization_id,
        address=address if address is not None else current_address(),
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        target=str(target or "")[:300],
        details=details or {},
    )
