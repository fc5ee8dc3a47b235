"""Writes for organizations, memberships, users and tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Conflict, Forbidden, Invalid, NotFound
from scanpulse.core.text import hidden_character, hidden_character_message

from .models import AccessChange, ApiToken, Membership, Organization, Role, TokenScope
from .selectors import tokens_valid
from .tokens import generate_token, token_digest
from .types import User

# last_used_at is informational; writing it on every request would turn reads into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def _visible(field: str, value: str) -> None:
    """Names are shown to other people: refuse what would make one pass for another."""
    hidden = hidden_character(value)
    if hidden is not None:
        message = hidden_character_message(hidden)
        raise Invalid(message, fields={field: [message]})


def organization_create(*, name: str) -> Organization:
    name = name.strip()
    if not name:
        raise Invalid("Organization name must not be empty.", fields={"name": ["Required."]})
    if len(name) > 100:
        raise Invalid(
            "Organization name is too long.", fields={"name": ["At most 100 characters."]}
        )
    _visible("name", name)
    try:
        with transaction.atomic():
            return Organization.objects.create(name=name)
    except IntegrityError as exc:
        raise Conflict(f"An organization named {name!r} already exists.") from exc


def organization_set_password_login(*, organization: Organization, enabled: bool) -> None:
    """Allow or refuse password sign-in for the organization's members (off: single sign-on
    only). Sessions already signed in stay; the next password sign-in is refused."""
    organization.password_login = enabled
    organization.save(update_fields=["password_login"])


def user_create(
    *, email: str, organization: Organization, role: str = Role.MEMBER, password: str | None = None
) -> User:
    email = email.strip().lower()
    _visible("email", email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Invalid("Not a valid email address.", fields={"email": ["Invalid."]}) from exc
    if role not in Role.values:
        raise Invalid(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    User = get_user_model()
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=email, defaults={"email": email})
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        Membership.objects.update_or_create(
            organization=organization, user=user, defaults={"role": role}
        )
    return user


def user_set_password(*, user: User, password: str) -> None:
    """Replace a user's password. Their signed-in browser sessions end (Django ties a session
    to the password hash); API tokens are separate credentials and stay valid."""
    user.set_password(password)
    user.save(update_fields=["password"])


_MAX_TOKEN_DAYS = 3650


def _token_admin(user: User) -> None:
    """Managing tokens needs a browser session or a token of the admin scope: a read or scan
    token cannot mint a stronger one, nor revoke others."""
    scope = getattr(user, "token_scope", None)
    if scope is not None and scope != TokenScope.ADMIN:
        raise Forbidden(f"This token's scope ({scope}) does not allow managing tokens.")


def _audit_token(action: AuditAction, user: User, api_token: ApiToken) -> None:
    details = {"scope": api_token.scope, "prefix": api_token.prefix}
    organizations: list[UUID | None] = list(
        user.memberships.values_list("organization_id", flat=True)
    )
    for organization_id in organizations or [None]:
        record(
            action=action,
            actor=user,
            organization_id=organization_id,
            target_type="token",
            target_id=api_token.pk,
            target=api_token.name,
            details=details,
        )


def token_create(
    *,
    user: User,
    name: str,
    scope: str = TokenScope.ADMIN,
    expires_in_days: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its clear value, which is never stored. A token acts
    as its user, within its ``scope``; it stops working after ``expires_in_days``, or at
    ``expires_at`` (None for both: until revoked)."""
    _token_admin(user)
    name = name.strip() or "default"
    _visible("name", name)
    if scope not in TokenScope.values:
        message = f"Unknown scope {scope!r}; use one of {', '.join(TokenScope.values)}."
        raise Invalid(message, fields={"scope": [message]})
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= _MAX_TOKEN_DAYS:
            message = f"Between 1 and {_MAX_TOKEN_DAYS} days."
            raise Invalid(f"Expiry: {message}", fields={"expires_in_days": [message]})
        expires_at = timezone.now() + timedelta(days=expires_in_days)
    elif expires_at is not None:
        now = timezone.now()
        if not now < expires_at <= now + timedelta(days=_MAX_TOKEN_DAYS):
            message = f"The expiry must be in the future, within {_MAX_TOKEN_DAYS} days."
            raise Invalid(f"Expiry: {message}", fields={"expires_at": [message]})
    token = generate_token()
    with transaction.atomic():
        api_token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=token[:12],
            digest=token_digest(token),
            scope=scope,
            expires_at=expires_at,
        )
        _audit_token(AuditAction.TOKEN_CREATE, user, api_token)
    return api_token, token


def token_authenticate(*, token: str, address: str | None = None) -> ApiToken | None:
    """The valid token of that value, its last use noted (time and address); the user it
    returns carries the token's scope (``user.token_scope``) for ``permissions.require``."""
    api_token = tokens_valid().select_related("user").filter(digest=token_digest(token)).first()
    if api_token is None:
        return None
    now = timezone.now()
    if (
        api_token.last_used_at is None
        or now - api_token.last_used_at > _LAST_USED_RESOLUTION
        or (address is not None and address != api_token.last_used_address)
    ):
        changes: dict[str, object] = {"last_used_at": now}
        if address is not None:
            changes["last_used_address"] = address
            api_token.last_used_address = address
        ApiToken.objects.filter(pk=api_token.pk).update(**changes)
        api_token.last_used_at = now
    api_token.user.token_scope = api_token.scope  # type: ignore[attr-defined]
    return api_token


def token_revoke(*, api_token: ApiToken, actor: User | None = None) -> None:
    """Revoke a token. Saving it tells every web process to close its streams (see
    ``scanpulse.events.services``), as a revocation in the admin does."""
    if api_token.revoked_at is None:
        with transaction.atomic():
            api_token.revoked_at = timezone.now()
            api_token.save(update_fields=["revoked_at"])
            _audit_token(AuditAction.TOKEN_REVOKE, actor or api_token.user, api_token)


def token_revoke_own(*, user: User, token_id: UUID | str) -> ApiToken:
    """Revoke one of ``user``'s own tokens (another's is not found)."""
    _token_admin(user)
    try:
        api_token = ApiToken.objects.get(pk=token_id, user=user)
    except (ApiToken.DoesNotExist, ValidationError, ValueError) as exc:
        raise NotFound("Token not found.") from exc
    token_revoke(api_token=api_token, actor=user)
    return api_token


def prune_access_changes(*, keep: int) -> int:
    """Delete all but about the last ``keep`` access changes (only their count and the last id
    are read); the number deleted."""
    last = AccessChange.objects.order_by("-id").values_list("id", flat=True).first()
    if last is None:
        return 0
    deleted, _ = AccessChange.objects.filter(id__lte=last - keep).delete()
    return deleted
