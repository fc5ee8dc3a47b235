"""Single sign-on rules: who comes in and with which role, the ID token checks, the provider's
addresses, and organizations that refuse passwords. (The whole flow against a real provider
is in tests/web/test_sso_browser.py.)"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from scanpulse.core.exceptions import Unavailable
from scanpulse.tenancy.models import Membership, Organization, OrganizationSso
from scanpulse.tenancy.services import (
    organization_create,
    organization_set_password_login,
    user_create,
)
from scanpulse.tenancy.sso import (
    OidcBackend,
    ProviderConfig,
    SsoRefused,
    check_url,
    memberships_from_claims,
    provider_config,
    sign_in_organization_user,
    sign_in_user,
)
from scanpulse.tenancy.sso_settings import organization_sso_set

pytestmark = pytest.mark.django_db

RULES = {
    "SCANPULSE_OIDC_DOMAINS": {"acme.example": "acme:member", "viewers.example": "acme:viewer"},
    "SCANPULSE_OIDC_GROUPS": {"sec-admins": "acme:admin", "globex-team": "globex:member"},
}


def _claims(email: str, *, verified: Any = True, groups: list[str] | None = None) -> dict:
    return {"sub": email, "email": email, "email_verified": verified, "groups": groups or []}


@override_settings(**RULES)
def test_domain_and_group_rules_give_the_highest_role_per_organization() -> None:
    assert memberships_from_claims(_claims("a@ACME.example")) == {"acme": "member"}
    assert memberships_from_claims(_claims("a@acme.example", groups=["sec-admins"])) == {
        "acme": "admin"
    }
    assert memberships_from_claims(_claims("a@elsewhere.example", groups=["globex-team"])) == {
        "globex": "member"
    }
    assert memberships_from_claims(_claims("a@elsewhere.example", groups=["unknown"])) == {}


@override_settings(**RULES)
def test_first_sign_in_creates_the_account_without_a_password() -> None:
    acme = organization_create(name="acme")
    user = sign_in_user(_claims("New.Person@acme.example", groups=["sec-admins"]))
    assert user.username == "new.person@acme.example"
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user, organization=acme).role == "admin"
    # Out of the group at the provider: only the domain's rule is left, and a domain's default
    # role never lowers a role.
    again = sign_in_user(_claims("new.person@acme.example"))
    assert again == user
    assert Membership.objects.get(user=user, organization=acme).role == "admin"


@override_settings(**RULES)
def test_a_group_rule_sets_the_role_of_an_existing_member() -> None:
    acme = organization_create(name="acme")
    owner = user_create(email="boss@acme.example", organization=acme, role="owner")
    sign_in_user(_claims("boss@acme.example"))
    assert Membership.objects.get(user=owner, organization=acme).role == "owner"
    sign_in_user(_claims("boss@acme.example", groups=["sec-admins"]))
    assert Membership.objects.get(user=owner, organization=acme).role == "admin"


@override_settings(**RULES)
@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (_claims("x@elsewhere.example"), "not open to elsewhere.example accounts"),
        (_claims("x@acme.example", verified=False), "has not verified your email"),
        (_claims("x@acme.example", verified="false"), "has not verified your email"),
        ({"sub": "x", "email_verified": True}, "did not tell your email address"),
    ],
)
def test_people_no_rule_admits_are_refused_and_get_no_account(claims: dict, message: str) -> None:
    organization_create(name="acme")
    with pytest.raises(SsoRefused, match=message):
        sign_in_user(claims)
    assert not get_user_model().objects.filter(username="x@elsewhere.example").exists()
    assert not get_user_model().objects.filter(username="x@acme.example").exists()


@override_settings(SCANPULSE_GIT_ALLOWED_NETWORKS=[])
@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/token",  # not HTTPS
        "https://127.0.0.1:8443/token",  # this machine, not allowed
        "https://169.254.169.254/latest",  # a cloud metadata service
        "https://10.1.2.3/token",  # a private network
    ],
)
def test_the_providers_server_side_addresses_follow_the_ssrf_rules(url: str) -> None:
    with pytest.raises(Unavailable):
        check_url(url, server_side=True)


@override_settings(SCANPULSE_GIT_ALLOWED_NETWORKS=["127.0.0.1/32"])
def test_an_allowed_network_lets_a_local_provider_in() -> None:
    assert check_url("https://127.0.0.1:8443/token", server_side=True)
    with pytest.raises(Unavailable, match="HTTPS"):
        check_url("http://127.0.0.1:8443/token", server_side=True)


# --- the ID token -------------------------------------------------------------------------

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "https://idp.example.com"


def _token(**changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "scanpulse", "sub": "s", "iat": now, "exp": now + 300}
    claims.update(changes)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, KEY, algorithm="RS256")


def _backend() -> OidcBackend:
    backend = OidcBackend()
    backend.OIDC_RP_CLIENT_ID = "scanpulse"
    backend.issuer = ISSUER
    return backend


@override_settings(SCANPULSE_OIDC_CLOCK_SKEW_SECONDS=60)
def test_a_valid_id_token_is_accepted() -> None:
    assert _backend()._verify_jws(_token(), KEY.public_key())["sub"] == "s"


@override_settings(SCANPULSE_OIDC_CLOCK_SKEW_SECONDS=60)
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"exp": int(time.time()) - 120}, jwt.ExpiredSignatureError),
        ({"aud": "another-client"}, jwt.InvalidAudienceError),
        ({"iss": "https://evil.example"}, jwt.InvalidIssuerError),
        ({"exp": None}, jwt.MissingRequiredClaimError),
    ],
)
def test_id_tokens_that_are_expired_or_for_someone_else_are_refused(
    changes: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        _backend()._verify_jws(_token(**changes), KEY.public_key())


def test_an_id_token_signed_with_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        _backend()._verify_jws(_token(), other.public_key())


# --- passwords turned off ------------------------------------------------------------------


def test_password_sign_in_refused_for_an_sso_only_organization_in_the_admin_too() -> None:
    acme = organization_create(name="acme")
    user = user_create(email="root@acme.example", organization=acme, password="pw-123456789")
    user.is_staff = user.is_superuser = True
    user.save()
    organization_set_password_login(organization=acme, enabled=False)
    assert not Organization.objects.get(pk=acme.pk).password_login
    client = Client()
    response = client.post("/login/", {"username": "root@acme.example", "password": "pw-123456789"})
    assert response.status_code == 200
    assert "signs in with single sign-on" in response.content.decode()
    response = client.post(
        "/admin/login/", {"username": "root@acme.example", "password": "pw-123456789"}
    )
    assert response.status_code == 200  # the form again, not a redirect into the admin
    assert client.get("/admin/").status_code == 302
    organization_set_password_login(organization=acme, enabled=True)
    response = client.post("/login/", {"username": "root@acme.example", "password": "pw-123456789"})
    assert response.status_code == 302


@override_settings(SCANPULSE_OIDC_ISSUER="", SCANPULSE_OIDC_CLIENT_ID="")
def test_without_a_provider_there_is_no_sso_button_or_route() -> None:
    client = Client()
    assert "Sign in with SSO" not in client.get("/login/").content.decode()
    assert client.get("/sso/login/").status_code == 404
    assert client.get("/sso/callback/?code=x&state=y").status_code == 404


@override_settings(
    SCANPULSE_OIDC_ISSUER="https://127.0.0.1:1",
    SCANPULSE_OIDC_CLIENT_ID="scanpulse",
    SCANPULSE_GIT_ALLOWED_NETWORKS=[],
)
def test_a_provider_on_a_private_address_is_not_contacted_and_the_page_says_why() -> None:
    response = Client().get("/sso/login/")
    assert response.status_code == 503
    assert "SCANPULSE_GIT_ALLOWED_NETWORKS" in response.content.decode()


@override_settings(
    SCANPULSE_OIDC_ISSUER="https://127.0.0.1:1",  # allowed, but nothing listens there
    SCANPULSE_OIDC_CLIENT_ID="scanpulse",
    SCANPULSE_GIT_ALLOWED_NETWORKS=["127.0.0.1/32"],
)
def test_an_unreachable_provider_gets_a_clear_page() -> None:
    response = Client().get("/sso/login/")
    assert response.status_code == 503
    assert "could not be reached" in response.content.decode()


@override_settings(
    SCANPULSE_OIDC_DOMAINS={"acme.example": "acme:superuser"},
    SCANPULSE_OIDC_GROUPS=["not", "an", "object"],
)
def test_wrong_rules_are_reported_by_the_system_checks() -> None:
    from scanpulse.tenancy.checks import sso_rules_are_valid

    messages = [error.msg for error in sso_rules_are_valid()]
    assert any("unknown role 'superuser'" in message for message in messages)
    assert any("SCANPULSE_OIDC_GROUPS must be a JSON object" in message for message in messages)


# --- an organization's own provider ----------------------------------------------------------


def test_an_organizations_own_provider_keeps_its_secret_sealed_and_needs_https() -> None:
    globex = organization_create(name="globex")
    with pytest.raises(Unavailable, match="HTTPS"):
        organization_sso_set(
            organization=globex,
            issuer="http://idp.globex.example",
            client_id="c",
            client_secret="s",
        )
    organization_sso_set(
        organization=globex,
        issuer="https://idp.globex.example/",
        client_id="c",
        client_secret="the-client-secret",
        default_role="viewer",
    )
    assert "the-client-secret" not in OrganizationSso.objects.get().client_secret
    config = provider_config(str(globex.pk))
    assert config is not None
    assert (config.issuer, config.client_secret, config.default_role) == (
        "https://idp.globex.example",
        "the-client-secret",
        "viewer",
    )
    assert provider_config("not-a-uuid") is None
    assert Client().get("/sso/login/?organization=not-a-uuid").status_code == 404


def test_an_organizations_own_provider_signs_in_only_accounts_of_that_organization() -> None:
    acme = organization_create(name="acme")
    globex = organization_create(name="globex")
    user_create(email="carol@acme.example", organization=acme)
    config = ProviderConfig("https://idp", "c", "s", "openid", str(globex.pk), "viewer")
    with pytest.raises(SsoRefused, match="belongs to other organizations too"):
        sign_in_organization_user(_claims("carol@acme.example"), config)
    with pytest.raises(SsoRefused, match="not verified"):
        sign_in_organization_user(_claims("new@globex.example", verified=False), config)
    user = sign_in_organization_user(_claims("new@globex.example"), config)
    assert {m.organization.name: m.role for m in user.memberships.all()} == {"globex": "viewer"}
    assert sign_in_organization_user(_claims("new@globex.example"), config) == user
