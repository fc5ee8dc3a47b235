"""An organization's own single sign-on provider on its settings page: owners see and change
it (it signs in as any member, owners included: not an admin's to set), the client secret is
write-only, every change is in the audit log."""

from __future__ import annotations

import pytest
from django.test import Client

from scanpulse.core.crypto import unseal
from scanpulse.tenancy.models import OrganizationSso, Role
from scanpulse.tenancy.services import user_create

pytestmark = pytest.mark.django_db

SECRET = "client-secret-4f1c9e"


def _signed_in(tenant, role: str) -> Client:
    person = user_create(email=f"{role}-sso@acme.example", organization=tenant.org, role=role)
    browser = Client(REMOTE_ADDR="198.51.100.20")
    browser.force_login(person)
    return browser


def test_owners_set_and_change_sso_and_never_see_the_secret_again(tenant) -> None:
    owner = _signed_in(tenant, Role.OWNER)
    settings_url = f"/organizations/{tenant.org.id}/settings"
    sso_url = f"/organizations/{tenant.org.id}/sso"
    page = owner.get(settings_url).content.decode()
    assert "Single sign-on" in page and "no single sign-on provider of its own" in page

    saved = owner.post(
        sso_url,
        {
            "issuer": "https://id.acme.example/",
            "client_id": "scanpulse-acme",
            "client_secret": SECRET,
            "scopes": "openid email",
            "default_role": "viewer",
        },
        follow=True,
    )
    page = saved.content.decode()
    assert "Single sign-on saved." in page
    assert 'value="https://id.acme.example"' in page and 'value="scanpulse-acme"' in page
    assert f"/sso/login/?organization={tenant.org.id}" in page
    assert "A client secret is stored; it is never shown." in page
    assert SECRET not in page
    stored = OrganizationSso.objects.get(organization=tenant.org)
    assert SECRET not in stored.client_secret and unseal(stored.client_secret) == SECRET

    # A change without a secret keeps the stored one.
    owner.post(
        sso_url,
        {
            "issuer": "https://id.acme.example",
            "client_id": "scanpulse-acme",
            "client_secret": "",
            "scopes": "openid email profile",
            "default_role": "member",
        },
    )
    stored.refresh_from_db()
    assert unseal(stored.client_secret) == SECRET and stored.default_role == "member"
    bad = owner.post(sso_url, {"issuer": "http://id.acme.example", "client_id": "c"}, follow=True)
    assert "HTTPS" in bad.content.decode()

    removed = owner.post(sso_url, {"action": "remove"}, follow=True)
    assert "Single sign-on provider removed." in removed.content.decode()
    assert not OrganizationSso.objects.filter(organization=tenant.org).exists()

    # As the audit log's readers see it: who, from where, what changed; no secret anywhere.
    audit = tenant.client.get(
        f"/api/organizations/{tenant.org.id}/audit/", {"action": "sso.change"}
    ).json()["results"]
    assert [
        (row["actor"], row["address"], row["target"], row["details"]) for row in reversed(audit)
    ] == [
        (
            "owner-sso@acme.example",
            "198.51.100.20",
            "https://id.acme.example",
            {
                "change": "set",
                "changed": ["client_id", "default_role", "issuer", "scopes"],
                "client_secret_replaced": True,
            },
        ),
        (
            "owner-sso@acme.example",
            "198.51.100.20",
            "https://id.acme.example",
            {
                "change": "update",
                "changed": ["default_role", "scopes"],
                "client_secret_replaced": False,
            },
        ),
        (
            "owner-sso@acme.example",
            "198.51.100.20",
            "https://id.acme.example",
            {"change": "remove"},
        ),
    ]
    exported = tenant.client.get(
        f"/api/organizations/{tenant.org.id}/audit/", {"export": "csv"}
    ).content.decode()
    assert SECRET not in exported


def test_admins_members_and_viewers_neither_see_nor_change_sso(tenant) -> None:
    for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER):
        browser = _signed_in(tenant, role)
        page = browser.get(f"/organizations/{tenant.org.id}/settings").content.decode()
        assert "Single sign-on" not in page
        refused = browser.post(
            f"/organizations/{tenant.org.id}/sso",
            {"issuer": "https://evil.example", "client_id": "c", "client_secret": "s"},
        )
        assert refused.status_code == 403
    assert not OrganizationSso.objects.exists()
