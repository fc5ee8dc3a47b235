"""Who is asking, for the stream endpoints: bearer tokens and browser sessions, cached.

A resumed stream must not cost a query, so principals are cached per process for a short
time; revoking a token or ending a session is broadcast on the bus and evicts the entry and
closes the streams it opened at once.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

from django.conf import settings

from scanpulse.tenancy.tokens import parse_bearer, token_digest

from .db import run_db

CACHE_SECONDS = 30.0
NEGATIVE_CACHE_SECONDS = 5.0
MAX_ENTRIES = 50_000


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: Any
    org_ids: frozenset[str]
    auth_key: str
    expires_at: float | None = None  # sessions end; tokens live until revoked


def token_auth_key(digest: str) -> str:
    return f"t:{digest}"


def session_auth_key(session_key: str) -> str:
    return "s:" + hashlib.sha256(session_key.encode()).hexdigest()


def credentials(headers: dict[bytes, bytes]) -> tuple[str, str] | None:
    """``(auth_key, secret)`` from the request headers, token first, or None."""
    authorization = headers.get(b"authorization")
    if authorization:
        token = parse_bearer(authorization)
        if token is None:
            return ("invalid", "")
        return token_auth_key(token_digest(token)), token
    cookie_header = headers.get(b"cookie")
    if cookie_header:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(cookie_header.decode("latin-1"))
        except CookieError:
            return None
        morsel = cookie.get(settings.SESSION_COOKIE_NAME)
        if morsel is not None and morsel.value:
            return session_auth_key(morsel.value), morsel.value
    return None


def _org_ids(user_id: Any) -> frozenset[str]:
    from scanpulse.tenancy.models import Membership

    return frozenset(
        str(org_id)
        for org_id in Membership.objects.filter(user_id=user_id).values_list(
            "organization_id", flat=True
        )
    )


def _resolve_token(auth_key: str, token: str) -> Principal | None:
    from scanpulse.tenancy.services import token_authenticate

    api_token = token_authenticate(token=token)
    if api_token is None:
        return None
    return Principal(api_token.user_id, _org_ids(api_token.user_id), auth_key)


def _resolve_session(auth_key: str, session_key: str) -> Principal | None:
    from importlib import import_module

    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.utils.crypto import constant_time_compare

    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key=session_key)
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    expiry: datetime = session.get_expiry_date()
    return Principal(user.pk, _org_ids(user.pk), auth_key, expiry.timestamp())


class PrincipalCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        # One database read per credential at a time: a crowd reconnecting with the same
        # token or session (a dashboard on a wall of screens, a reconnect storm after the
        # entry expired) waits for the first read instead of queueing one read each.
        self._loading: dict[str, asyncio.Task[Principal | None]] = {}

    async def resolve(self, headers: dict[bytes, bytes]) -> Principal | None:
        found = credentials(headers)
        if found is None or found[0] == "invalid":
            return None
        auth_key, secret = found
        cached = self._entries.get(auth_key)
        if cached is not None and cached[0] > time.monotonic():
            principal = cached[1]
        else:
            loading = self._loading.get(auth_key)
            if loading is None:
                loading = asyncio.get_running_loop().create_task(self._load(auth_key, secret))
                self._loading[auth_key] = loading
                loading.add_done_callback(functools.partial(self._loaded, auth_key))
            # Shielded: a caller that goes away does not cancel the read the others wait for.
            principal = await asyncio.shield(loading)
        if (
            principal is not None
            and principal.expires_at is not None
            and (principal.expires_at <= time.time())
        ):
            return None
        return principal

    async def _load(self, auth_key: str, secret: str) -> Principal | None:
        resolver = _resolve_token if auth_key.startswith("t:") else _resolve_session
        principal = await run_db(resolver, auth_key, secret)
        if self._loading.get(auth_key) is asyncio.current_task():  # not forgotten meanwhile
            ttl = CACHE_SECONDS if principal is not None else NEGATIVE_CACHE_SECONDS
            self._entries[auth_key] = (time.monotonic() + ttl, principal)
            self._entries.move_to_end(auth_key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return principal

    def _loaded(self, auth_key: str, task: asyncio.Task[Principal | None]) -> None:
        if self._loading.get(auth_key) is task:
            del self._loading[auth_key]
        if not task.cancelled():
            task.exception()  # retrieved by the callers; never "never retrieved"

    def forget(self, auth_key: str) -> None:
        self._entries.pop(auth_key, None)
        # A read that started before the revocation must not be cached after it.
        self._loading.pop(auth_key, None)
