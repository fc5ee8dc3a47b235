"""Notifications every web process must act on: credentials that stopped being valid."""

from __future__ import annotations

from typing import Any

from .access import session_auth_key, token_auth_key
from .bus import get_bus
from .types import Control


def notify_token_revoked(*, digest: str) -> None:
    get_bus().publish_control(Control("revoke", {"auth_key": token_auth_key(digest)}))


def notify_session_ended(*, session_key: str) -> None:
    get_bus().publish_control(Control("revoke", {"auth_key": session_auth_key(session_key)}))


def on_user_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        notify_session_ended(session_key=session_key)
