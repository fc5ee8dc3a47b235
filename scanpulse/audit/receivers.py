"""Sign-ins, failed sign-ins and sign-outs, from Django's authentication signals: recorded in
each organization the user belongs to (a failed attempt for an unknown name in none)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from .context import request_address
from .services import AuditAction, record


def _organizations(user: Any) -> list[Any]:
    return list(user.memberships.values_list("organization_id", flat=True))


def _record_each(user: Any, action: AuditAction, request: Any, **extra: Any) -> None:
    address = request_address(request)
    organizations = _organizations(user) or [None]
    for organization_id in organizations:
        record(
            action=action,
            actor=user,
            organization_id=organization_id,
            target_type="user",
            target_id=user.pk,
            target=user.email or user.username,
            address=address,
            **extra,
        )


def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record_each(user, AuditAction.SIGN_IN, request)


def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and getattr(user, "is_authenticated", False):
        _record_each(user, AuditAction.SIGN_OUT, request)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    name = str(credentials.get("username") or "").strip().lower()[:254]
    user = get_user_model().objects.filter(username=name).first() if name else None
    if user is None:
        # Nobody of that name: no organization to show it to; kept for the administrators.
        record(
            action=AuditAction.SIGN_IN_FAILED,
            actor_label="",
            target_type="user",
            target=name,
            address=request_address(request),
        )
        return
    address = request_address(request)
    for organization_id in _organizations(user) or [None]:
        record(
            action=AuditAction.SIGN_IN_FAILED,
            organization_id=organization_id,
            target_type="user",
            target_id=user.pk,
            target=user.email or user.username,
            address=address,
        )
