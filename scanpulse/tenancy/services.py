"""Writes for organizations, memberships, users and tokens."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from scanpulse.core.exceptions import Conflict, Invalid
from scanpulse.core.text import hidden_character, hidden_character_message

from .models import ApiToken, Membership, Organization, Role
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


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its clear value, which is never stored."""
    name = name.strip() or "default"
    _visible("name", name)
    token = generate_token()
    api_token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=token[:12], digest=token_digest(token)
    )
    return api_token, token


def token_authenticate(*, token: str) -> ApiToken | None:
    api_token = tokens_valid().select_related("user").filter(digest=token_digest(token)).first()
    if api_token is None:
        return None
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        api_token.last_used_at = now
    return api_token


def token_revoke(*, api_token: ApiToken) -> None:
    """Revoke a token. Saving it tells every web process to close its streams (see
    ``scanpulse.events.services``), as a revocation in the admin does."""
    if api_token.revoked_at is None:
        api_token.revoked_at = timezone.now()
        api_token.save(update_fields=["revoked_at"])
