"""Single sign-on with OpenID Connect: the provider's endpoints (discovery), the checks of an
ID token, who may come in, and the organizations and roles they get.

The flow itself (authorization code with PKCE, state and nonce in the session, the code
exchange, the signature check against the provider's keys) is ``mozilla-django-oidc``'s; this
module configures it from ``SCANPULSE_OIDC_*`` (docs/sso.md) and adds what it leaves out:
issuer, audience and expiry checks, ``email_verified``, the SSRF rules for the provider's
addresses, just-in-time accounts and the mapping of email domains and groups to organizations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import transaction
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from scanpulse.core.crypto import unseal
from scanpulse.core.exceptions import Forbidden, Unavailable
from scanpulse.pipeline.locations import LocationRefused, NetworkPolicy, remote_of

from .models import Membership, Organization, OrganizationSso, Role
from .types import User

log = logging.getLogger(__name__)

# Roles from the least to the most: several rules for one organization give the highest.
_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
_REFUSAL_ATTRIBUTE = "_scanpulse_sso_refusal"
# Which provider a callback answers for: set by the callback view from the session's state.
PROVIDER_ATTRIBUTE = "_scanpulse_sso_provider"
DISCOVERY_CACHE_SECONDS = 3600


class SsoRefused(Forbidden):
    """Single sign-on did not let this person in; the message says why, for them."""

    default_code = "sso_refused"


def sso_enabled() -> bool:
    """Whether the deployment has a provider (the sign-in page's **Sign in with SSO**)."""
    return bool(settings.SCANPULSE_OIDC_ISSUER and settings.SCANPULSE_OIDC_CLIENT_ID)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """A provider and scanpulse's client there: the deployment's (``organization_id`` empty)
    or an organization's own."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    organization_id: str = ""
    default_role: str = Role.MEMBER


def provider_config(organization_id: str = "") -> ProviderConfig | None:
    """The deployment's provider, or with ``organization_id`` that organization's own; None
    when there is none."""
    if not organization_id:
        if not sso_enabled():
            return None
        return ProviderConfig(
            issuer=settings.SCANPULSE_OIDC_ISSUER,
            client_id=settings.SCANPULSE_OIDC_CLIENT_ID,
            client_secret=settings.SCANPULSE_OIDC_CLIENT_SECRET,
            scopes=settings.SCANPULSE_OIDC_SCOPES,
        )
    try:
        row = OrganizationSso.objects.filter(organization_id=organization_id).first()
    except (ValueError, ValidationError):
        return None
    if row is None:
        return None
    return ProviderConfig(
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=unseal(row.client_secret),
        scopes=row.scopes,
        organization_id=str(row.organization_id),
        default_role=row.default_role,
    )


@dataclass(frozen=True, slots=True)
class ProviderEndpoints:
    issuer: str
    authorization: str
    token: str
    userinfo: str
    jwks: str
    end_session: str | None


def tls_verify() -> str | bool:
    """What ``requests`` verifies the provider's certificate with: the CA bundle setting, or
    the system's store."""
    return settings.SCANPULSE_OIDC_CA_BUNDLE or True


def check_url(url: str, *, server_side: bool) -> str:
    """``url`` if it may be used: HTTPS always; for addresses this server connects to, the
    SSRF rules of repository URLs too (public addresses or ``SCANPULSE_GIT_ALLOWED_NETWORKS``,
    never a cloud metadata service). ``Unavailable`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise Unavailable("The identity provider's addresses must use HTTPS.")
    if server_side:
        try:
            remote = remote_of(url)
            assert remote is not None
            NetworkPolicy.parse(settings.SCANPULSE_GIT_ALLOWED_NETWORKS).check(remote)
        except (LocationRefused, ValueError):
            raise Unavailable(
                "The identity provider's address is not allowed (private addresses must be "
                "listed in SCANPULSE_GIT_ALLOWED_NETWORKS)."
            ) from None
    return url


def _discover(issuer: str) -> ProviderEndpoints:
    url = check_url(issuer.rstrip("/") + "/.well-known/openid-configuration", server_side=True)
    try:
        response = requests.get(
            url,
            verify=tls_verify(),
            timeout=settings.SCANPULSE_OIDC_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("OpenID Connect discovery at %s failed: %s", url, type(exc).__name__)
        raise Unavailable("The identity provider could not be reached. Try again later.") from None
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer.rstrip(
        "/"
    ):
        raise Unavailable("The identity provider's configuration names another issuer.")
    try:
        endpoints = ProviderEndpoints(
            issuer=document["issuer"],
            authorization=check_url(document["authorization_endpoint"], server_side=False),
            token=check_url(document["token_endpoint"], server_side=True),
            userinfo=check_url(document["userinfo_endpoint"], server_side=True),
            jwks=check_url(document["jwks_uri"], server_side=True),
            end_session=(
                check_url(document["end_session_endpoint"], server_side=False)
                if document.get("end_session_endpoint")
                else None
            ),
        )
    except (KeyError, TypeError):
        raise Unavailable("The identity provider's configuration is incomplete.") from None
    return endpoints


def provider_endpoints(issuer: str = "") -> ProviderEndpoints:
    """A provider's endpoints (the deployment's by default), from its discovery document
    (kept an hour)."""
    issuer = issuer or settings.SCANPULSE_OIDC_ISSUER
    key = f"sso:discovery:{issuer}"
    cached = cache.get(key)
    if isinstance(cached, dict):
        return ProviderEndpoints(**cached)
    endpoints = _discover(issuer)
    cache.set(
        key,
        {field: getattr(endpoints, field) for field in ProviderEndpoints.__slots__},
        DISCOVERY_CACHE_SECONDS,
    )
    return endpoints


# --- who may come in, and where ------------------------------------------------------------


def _rule(value: Any, where: str) -> tuple[str, str]:
    if isinstance(value, str):
        organization, _, role = value.partition(":")
    elif isinstance(value, dict):
        organization, role = str(value.get("organization", "")), str(value.get("role", ""))
    else:
        raise ValueError(f"{where}: expected 'organization:role' or an object")
    role = role or Role.MEMBER
    if role not in Role.values:
        raise ValueError(f"{where}: unknown role {role!r}")
    return organization, role


def rule_errors() -> list[str]:
    """What is wrong with the configured domain and group rules (a system check reports it at
    every start, before anyone signs in)."""
    errors: list[str] = []
    for name in ("SCANPULSE_OIDC_DOMAINS", "SCANPULSE_OIDC_GROUPS"):
        rules = getattr(settings, name)
        if not isinstance(rules, dict):
            errors.append(f"{name} must be a JSON object")
            continue
        for key, value in rules.items():
            try:
                _rule(value, f"{name}[{key!r}]")
            except ValueError as exc:
                errors.append(str(exc))
    return errors


def _groups(claims: dict[str, Any]) -> list[str]:
    groups = claims.get(settings.SCANPULSE_OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return []
    return [group for group in groups if isinstance(group, str)]


def memberships_from_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Organization name → role for a person with these (verified) claims: their email
    domain's rule (``SCANPULSE_OIDC_DOMAINS``) and each group's (``SCANPULSE_OIDC_GROUPS``,
    read from the ``SCANPULSE_OIDC_GROUPS_CLAIM`` claim); the highest role per organization."""
    found: dict[str, str] = {}

    def add(organization: str, role: str) -> None:
        if organization not in found or _RANK[Role(role)] > _RANK[Role(found[organization])]:
            found[organization] = role

    email = str(claims.get("email", "")).lower()
    domain = email.rpartition("@")[2]
    domains = {key.lower(): value for key, value in settings.SCANPULSE_OIDC_DOMAINS.items()}
    if domain in domains:
        add(*_rule(domains[domain], f"SCANPULSE_OIDC_DOMAINS[{domain!r}]"))
    for group in _groups(claims):
        if group in settings.SCANPULSE_OIDC_GROUPS:
            add(*_rule(settings.SCANPULSE_OIDC_GROUPS[group], f"SCANPULSE_OIDC_GROUPS[{group!r}]"))
    return found


def verified_email(claims: dict[str, Any]) -> str:
    """The claims' email address, if the provider says it verified it; ``SsoRefused``
    otherwise (an unverified address could be anyone's)."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SsoRefused("The identity provider did not tell your email address.")
    verified = claims.get("email_verified")
    if isinstance(verified, str):
        verified = verified.lower() == "true"
    if verified is not True and settings.SCANPULSE_OIDC_REQUIRE_VERIFIED_EMAIL:
        raise SsoRefused(
            "Your identity provider has not verified your email address, so it cannot be "
            "trusted to sign you in. Verify it with your provider, then try again."
        )
    return email.strip().lower()


@transaction.atomic
def sign_in_user(claims: dict[str, Any]) -> User:
    """The account for these claims, created on first sign-in, with the memberships the
    rules give: missing ones are created; a group's rule sets the role of an existing one, a
    domain's default role never lowers it. ``SsoRefused`` when no rule lets them in."""
    email = verified_email(claims)
    wanted = memberships_from_claims(claims)
    organizations = {org.name: org for org in Organization.objects.filter(name__in=wanted)}
    missing = sorted(set(wanted) - set(organizations))
    if missing:
        log.warning("SSO rules name organizations that do not exist: %s", ", ".join(missing))
    if not organizations:
        raise SsoRefused(
            f"Single sign-on is not open to {email.rpartition('@')[2]} accounts here. Ask an "
            "administrator of your organization to add your domain or group."
        )
    UserModel = get_user_model()
    user, created = UserModel.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        user.set_unusable_password()
        user.save()
    if not user.is_active:
        raise SsoRefused("This account is disabled.")
    group_orgs = {
        _rule(settings.SCANPULSE_OIDC_GROUPS[group], group)[0]
        for group in _groups(claims)
        if group in settings.SCANPULSE_OIDC_GROUPS
    }
    for name, organization in organizations.items():
        role = wanted[name]
        membership = Membership.objects.filter(organization=organization, user=user).first()
        if membership is None:
            Membership.objects.create(organization=organization, user=user, role=role)
        elif membership.role != role and (
            name in group_orgs or _RANK[Role(role)] > _RANK[Role(membership.role)]
        ):
            membership.role = role
            membership.save(update_fields=["role"])
    return user


@transaction.atomic
def sign_in_organization_user(claims: dict[str, Any], config: ProviderConfig) -> User:
    """The account for these claims from an organization's own provider, which vouches for
    its own people only: a new account, or one whose every membership is in that
    organization; it joins with the provider's default role. An account that belongs to
    another organization too is refused (that provider could name anyone's address)."""
    email = verified_email(claims)
    organization = Organization.objects.get(pk=config.organization_id)
    UserModel = get_user_model()
    user = UserModel.objects.filter(username=email).first()
    if user is not None and (
        Membership.objects.filter(user=user).exclude(organization=organization).exists()
    ):
        raise SsoRefused(
            f"This account belongs to other organizations too, so {organization.name}'s "
            "identity provider cannot sign it in. Use the sign-in page."
        )
    if user is None:
        user = UserModel.objects.create(username=email, email=email)
        user.set_unusable_password()
        user.save()
    if not user.is_active:
        raise SsoRefused("This account is disabled.")
    Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": config.default_role}
    )
    return user


def refusal_of(request: HttpRequest) -> str | None:
    """Why the last single sign-on of this request was refused, in words for the person."""
    return getattr(request, _REFUSAL_ATTRIBUTE, None)


class OidcBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, configured from discovery, with the ID token checked in
    full (signature, issuer, audience, expiry, nonce) and scanpulse's account rules."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads its endpoints here; Django builds a backend for every request of a
        # signed-in user, so discovery waits until a sign-in actually happens.
        self.UserModel = get_user_model()
        self.OIDC_RP_SIGN_ALGO = settings.SCANPULSE_OIDC_SIGN_ALGORITHM
        self.OIDC_RP_IDP_SIGN_KEY = None

    def _configure(self, config: ProviderConfig) -> ProviderEndpoints:
        endpoints = provider_endpoints(config.issuer)
        self.config = config
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token
        self.OIDC_OP_USER_ENDPOINT = endpoints.userinfo
        self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks
        self.OIDC_RP_CLIENT_ID = config.client_id
        self.OIDC_RP_CLIENT_SECRET = config.client_secret
        self.issuer = endpoints.issuer
        return endpoints

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or "code" not in request.GET:
            return None
        config = provider_config(getattr(request, PROVIDER_ATTRIBUTE, ""))
        if config is None:
            return None
        try:
            self._configure(config)
            user: User | None = super().authenticate(request, **kwargs)
            return user
        except (SsoRefused, Unavailable) as exc:
            setattr(request, _REFUSAL_ATTRIBUTE, exc.message)
        except jwt.ExpiredSignatureError:
            setattr(request, _REFUSAL_ATTRIBUTE, "The identity provider's answer has expired.")
        except (jwt.InvalidTokenError, SuspiciousOperation):
            setattr(
                request,
                _REFUSAL_ATTRIBUTE,
                "The identity provider's answer could not be verified.",
            )
        except requests.RequestException as exc:
            log.warning("OpenID Connect token exchange failed: %s", type(exc).__name__)
            setattr(
                request,
                _REFUSAL_ATTRIBUTE,
                "The identity provider did not complete the sign-in. Try again.",
            )
        return None

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation("unexpected ID token algorithm")
        decoded: dict[str, Any] = jwt.decode(
            payload,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            audience=self.OIDC_RP_CLIENT_ID,
            issuer=self.issuer,
            leeway=settings.SCANPULSE_OIDC_CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        return decoded

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        claims = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise SsoRefused("The identity provider's answers do not agree.")
        if self.config.organization_id:
            return sign_in_organization_user(claims, self.config)
        return sign_in_user(claims)

    def get_user(self, user_id: Any) -> User | None:
        user: User | None = super().get_user(user_id)
        return user


class PasswordBackend(ModelBackend):
    """Django's password check, refused to members of an organization that signs in with
    single sign-on only (``Organization.password_login`` off)."""

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and not password_login_refused(user)


def password_login_refused(user: Any) -> bool:
    return Membership.objects.filter(user=user, organization__password_login=False).exists()
