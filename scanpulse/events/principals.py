"""Who a stream or poll request is: the credentials it carries (a bearer token or a browser
session) resolved to a principal - the user, their memberships and when the credential expires
- in batches, one or two queries however many credentials are asked about at once."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

from django.conf import settings

from scanpulse.tenancy.tokens import parse_bearer, token_digest


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: Any
    org_ids: frozenset[str]
    auth_key: str
    expires_at: float | None = None  # sessions end; tokens live until revoked
    roles: tuple[tuple[str, str], ...] = ()  # (organization id, role), sorted
    # What reads it again: the session key (a token's digest is part of its auth key).
    credential: str = field(default="", repr=False, compare=False)

    def role(self, org_id: str) -> str | None:
        for org, role in self.roles:
            if org == org_id:
                return role
        return None


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


# -- reading principals (in the database pool) ------------------------------------------------------


def _principal(
    user_id: Any,
    auth_key: str,
    memberships: Iterable[tuple[Any, str]],
    *,
    expires_at: float | None = None,
    credential: str = "",
) -> Principal:
    roles = tuple(sorted((str(org_id), role) for org_id, role in memberships))
    org_ids = frozenset(org_id for org_id, _ in roles)
    return Principal(user_id, org_ids, auth_key, expires_at, roles, credential)


def _memberships(user_id: Any) -> list[tuple[Any, str]]:
    from scanpulse.tenancy.models import Membership

    return list(Membership.objects.filter(user_id=user_id).values_list("organization_id", "role"))


def resolve_token(auth_key: str, token: str) -> Principal | None:
    from scanpulse.tenancy.services import token_authenticate

    api_token = token_authenticate(token=token)  # (also notes when the token was last used)
    if api_token is None:
        return None
    return _principal(
        api_token.user_id,
        auth_key,
        _memberships(api_token.user_id),
        expires_at=_timestamp(api_token.expires_at),
    )


def _timestamp(moment: Any) -> float | None:
    """A token's expiry as the stream checks keep it (None: until revoked)."""
    return None if moment is None else float(moment.timestamp())


def _token_principals(auth_keys: list[str]) -> dict[str, Principal | None]:
    """A batch of tokens in one query, their users' memberships joined."""
    from scanpulse.tenancy.selectors import tokens_valid

    by_digest = {auth_key[2:]: auth_key for auth_key in auth_keys}
    users: dict[str, Any] = {}
    expiries: dict[str, float | None] = {}
    memberships: dict[str, list[tuple[Any, str]]] = {}
    rows = (
        tokens_valid()
        .filter(digest__in=list(by_digest))
        .values_list(
            "digest",
            "user_id",
            "user__memberships__organization_id",
            "user__memberships__role",
            "expires_at",
        )
    )
    for digest, user_id, org_id, role, expires_at in rows:
        users[digest] = user_id
        expiries[digest] = _timestamp(expires_at)
        if org_id is not None:
            memberships.setdefault(digest, []).append((org_id, role))
    found: dict[str, Principal | None] = dict.fromkeys(auth_keys)
    for digest, user_id in users.items():
        auth_key = by_digest[digest]
        found[auth_key] = _principal(
            user_id, auth_key, memberships.get(digest, ()), expires_at=expiries[digest]
        )
    return found


def _session_store() -> Any:
    from importlib import import_module

    return import_module(settings.SESSION_ENGINE).SessionStore


def sessions_in_database() -> bool:
    """Whether sessions live in the database, where the access-change triggers see them."""
    from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

    return issubclass(_session_store(), DatabaseSessionStore)


def access_generation() -> tuple[int, int]:
    from scanpulse.tenancy.selectors import access_generation as generation

    return generation()


def prune_access_changes(keep: int) -> int:
    from scanpulse.tenancy.services import prune_access_changes as prune

    return prune(keep=keep)


def _session_principals(sessions: dict[str, str]) -> dict[str, Principal | None]:
    """``auth_key → session key``. Sessions kept in the database are read in one query for the
    batch (their expiry is the row's) and their users with their memberships in another;
    other engines load each session."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
    from django.utils import timezone
    from django.utils.crypto import constant_time_compare

    store_class = _session_store()
    found: dict[str, Principal | None] = dict.fromkeys(sessions)
    if not issubclass(store_class, DatabaseSessionStore):
        for auth_key, session_key in sessions.items():
            found[auth_key] = _load_session(store_class, auth_key, session_key)
        return found
    User = get_user_model()
    signed_in: dict[str, tuple[Any, str, float]] = {}
    rows = (
        store_class.get_model_class()
        .objects.filter(session_key__in=list(sessions.values()), expire_date__gt=timezone.now())
        .values_list("session_key", "session_data", "expire_date")
    )
    for session_key, session_data, expire_date in rows:
        user_id, session_hash = _signed_in_as(store_class, settings.SECRET_KEY, session_data)
        if user_id is not None:
            signed_in[session_key] = (
                User._meta.pk.to_python(user_id),
                session_hash,
                expire_date.timestamp(),
            )
    users: dict[Any, tuple[str, list[tuple[Any, str]]]] = {}
    if signed_in:
        user_rows = User.objects.filter(
            pk__in={user_id for user_id, _, _ in signed_in.values()}, is_active=True
        ).values_list("pk", "password", "memberships__organization_id", "memberships__role")
        for user_id, password, org_id, role in user_rows:
            _, memberships = users.setdefault(user_id, (password, []))
            if org_id is not None:
                memberships.append((org_id, role))
    expected: dict[Any, str] = {}
    for auth_key, session_key in sessions.items():
        if session_key not in signed_in:
            continue
        user_id, session_hash, expires_at = signed_in[session_key]
        if user_id not in users:
            continue
        password, memberships = users[user_id]
        # A password change ends every session (Django's rule): the hash is of the password.
        if user_id not in expected:
            expected[user_id] = User(pk=user_id, password=password).get_session_auth_hash()
        if constant_time_compare(session_hash, expected[user_id]):
            found[auth_key] = _principal(
                user_id, auth_key, memberships, expires_at=expires_at, credential=session_key
            )
    return found


@functools.lru_cache(maxsize=16_384)
def _signed_in_as(store_class: Any, secret_key: str, session_data: str) -> tuple[Any, str]:
    """The user id and password hash a session's stored data names (None when signed out or
    not valid), remembered by the data itself: the same sessions are read again every few
    seconds, and their data changes only when the session does. ``secret_key`` is part of
    the key, so a changed key decodes anew."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

    data = store_class().decode(session_data)
    return data.get(SESSION_KEY), data.get(HASH_SESSION_KEY, "")


def _load_session(store_class: Any, auth_key: str, session_key: str) -> Principal | None:
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.utils.crypto import constant_time_compare

    session = store_class(session_key=session_key)
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    expiry: datetime = session.get_expiry_date()
    return _principal(
        user.pk,
        auth_key,
        _memberships(user.pk),
        expires_at=expiry.timestamp(),
        credential=session_key,
    )


def resolve_session(auth_key: str, session_key: str) -> Principal | None:
    return _session_principals({auth_key: session_key})[auth_key]


def resolve_many(credentials: dict[str, str]) -> dict[str, Principal | None]:
    """The current principal of each credential, ``auth_key → session key`` (anything for a
    token): a query or two per batch, never one per credential when sessions are in the
    database."""
    tokens = [auth_key for auth_key in credentials if auth_key.startswith("t:")]
    sessions = {key: secret for key, secret in credentials.items() if key.startswith("s:")}
    found: dict[str, Principal | None] = {}
    if tokens:
        found.update(_token_principals(tokens))
    if sessions:
        found.update(_session_principals(sessions))
    return found


def resolve_many_noting_use(credentials: dict[str, str]) -> dict[str, Principal | None]:
    """``resolve_many``, and the tokens found valid noted as used now (at most once a minute
    per token, as ``token_authenticate`` notes them): one more query per batch."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from scanpulse.tenancy.models import ApiToken

    found = resolve_many(credentials)
    digests = [key[2:] for key, principal in found.items() if key.startswith("t:") and principal]
    if digests:
        now = timezone.now()
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
        ApiToken.objects.filter(stale, digest__in=digests).update(last_used_at=now)
    return found


def existing_scans(scan_ids: list[str]) -> set[str]:
    from scanpulse.scans.models import Scan

    return {str(pk) for pk in Scan.objects.filter(pk__in=scan_ids).values_list("pk", flat=True)}
