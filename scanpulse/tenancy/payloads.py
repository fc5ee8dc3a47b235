"""The JSON of members, invitations, tokens and audit entries (API and pages alike)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from scanpulse.audit.models import AuditEntry

from .models import ApiToken, Invitation, Membership


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def member_payload(membership: Membership) -> dict[str, Any]:
    return {
        "user": membership.user_id,
        "email": membership.user.email,
        "role": membership.role,
        "joined_at": _iso(membership.created_at),
    }


def invitation_payload(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": str(invitation.pk),
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by.email if invitation.invited_by else None,
        "created_at": _iso(invitation.created_at),
        "expires_at": _iso(invitation.expires_at),
    }


def token_payload(api_token: ApiToken) -> dict[str, Any]:
    """A token as listed: never its value (shown once, when created) nor its digest."""
    return {
        "id": str(api_token.pk),
        "name": api_token.name,
        "prefix": api_token.prefix,
        "scope": api_token.scope,
        "created_at": _iso(api_token.created_at),
        "expires_at": _iso(api_token.expires_at),
        "last_used_at": _iso(api_token.last_used_at),
        "last_used_address": api_token.last_used_address,
        "revoked_at": _iso(api_token.revoked_at),
    }


AUDIT_COLUMNS = (
    "time",
    "actor",
    "address",
    "action",
    "target_type",
    "target_id",
    "target",
    "details",
)


def audit_payload(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": str(entry.pk),
        "time": _iso(entry.created_at),
        "actor": entry.actor or None,
        "address": entry.address,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "target": entry.target,
        "details": entry.details,
    }


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_COLUMNS)
    for entry in entries:
        row = audit_payload(entry)
        row["details"] = json.dumps(entry.details, sort_keys=True)
        writer.writerow([_cell(row[column]) for column in AUDIT_COLUMNS])
    return buffer.getvalue()
