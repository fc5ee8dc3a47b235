"""Notifications every web process must act on: credentials that stopped being valid, users
whose access changed, scans that were deleted.

They are sent from model signals, once the change is committed, so that every path that goes
through the ORM sends them - the API, the commands, the admin, cascades (deleting a project
deletes its scans; deleting an organization, its memberships). They make the processes act
at once; what escapes them (SQL, a command whose in-memory bus no server shares) is caught by
the periodic checks of ``scanpulse.events.access``.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction

from scanpulse.tenancy.types import User

from .bus import get_bus
from .principals import session_auth_key, token_auth_key
from .types import Control


def notify_token_revoked(*, digest: str) -> None:
    get_bus().publish_control(Control("revoke", {"auth_key": token_auth_key(digest)}))


def notify_session_ended(*, session_key: str) -> None:
    get_bus().publish_control(Control("revoke", {"auth_key": session_auth_key(session_key)}))


def notify_access_changed(*, user_id: Any) -> None:
    get_bus().publish_control(Control("access", {"user": str(user_id)}))


def notify_scan_deleted(*, scan_id: Any, org_id: Any) -> None:
    get_bus().publish_control(Control("scan_deleted", {"scan": str(scan_id), "org": str(org_id)}))


def on_user_logged_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        notify_session_ended(session_key=session_key)


def on_token_saved(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    if instance.revoked_at is not None:
        transaction.on_commit(
            functools.partial(notify_token_revoked, digest=instance.digest), using=using
        )


def on_token_deleted(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    transaction.on_commit(
        functools.partial(notify_token_revoked, digest=instance.digest), using=using
    )


def on_membership_changed(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    """Saved (a new role, a new organization) or deleted."""
    transaction.on_commit(
        functools.partial(notify_access_changed, user_id=instance.user_id), using=using
    )


def on_user_saved(
    sender: Any, instance: Any, using: str, created: bool = False, **kwargs: Any
) -> None:
    """Deactivated, or a new password (which ends the user's sessions)."""
    update_fields = kwargs.get("update_fields")
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user has no streams; every sign-in saves last_login
    transaction.on_commit(
        functools.partial(notify_access_changed, user_id=instance.pk), using=using
    )


def on_scan_deleted(sender: Any, instance: Any, using: str, **kwargs: Any) -> None:
    transaction.on_commit(
        functools.partial(
            notify_scan_deleted, scan_id=instance.pk, org_id=instance.organization_id
        ),
        using=using,
    )
