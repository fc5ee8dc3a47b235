"""Invitations, role changes and removal, through the API as people use it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from scanpulse.audit.models import AuditEntry
from scanpulse.tenancy.models import Invitation, Membership, Role
from scanpulse.tenancy.services import token_create, user_create


def client_of(user) -> APIClient:
    _, token = token_create(user=user, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def person(tenant, email: str, role: str):
    return user_create(email=email, organization=tenant.org, role=role, password="pw-long-enough-1")


def invite(tenant, client, email: str, role: str = "member"):
    return client.post(
        f"/api/organizations/{tenant.org.id}/invitations/",
        {"email": email, "role": role},
        format="json",
    )


def link_secret(message) -> str:
    match = re.search(r"/invitations/(spi_[A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.mark.django_db
def test_an_invitation_is_mailed_and_accepted_once_by_a_new_user(tenant) -> None:
    answer = invite(tenant, tenant.client, "New@Example.com", "viewer")
    assert answer.status_code == 201, answer.content
    assert answer.json()["email"] == "new@example.com"
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    secret = link_secret(message)
    assert secret not in str(Invitation.objects.values_list())  # only its digest is stored

    page = APIClient().get(f"/invitations/{secret}")
    assert page.status_code == 200
    assert b"Join acme" in page.content
    accepted = APIClient().post(
        f"/invitations/{secret}",
        {"password1": "a-fine-new-password", "password2": "a-fine-new-password"},
    )
    assert accepted.status_code == 302
    membership = Membership.objects.get(user__email="new@example.com")
    assert membership.role == Role.VIEWER
    assert membership.user.check_password("a-fine-new-password")
    again = APIClient().get(f"/invitations/{secret}")
    assert again.status_code == 404
    actions = set(
        AuditEntry.objects.filter(organization_id=tenant.org.id).values_list("action", flat=True)
    )
    assert {"member.invite", "member.join"} <= actions


@pytest.mark.django_db
def test_an_existing_user_accepts_after_signing_in(tenant, other_tenant) -> None:
    invite(tenant, tenant.client, other_tenant.user.email, "member")
    secret = link_secret(mail.outbox[0])
    anonymous = APIClient().post(
        f"/invitations/{secret}",
        {"password1": "x-long-password-1", "password2": "x-long-password-1"},
    )
    assert b"log in" in anonymous.content
    assert not Membership.objects.filter(organization=tenant.org, user=other_tenant.user).exists()
    browser = APIClient()
    browser.force_login(other_tenant.user)
    assert browser.post(f"/invitations/{secret}").status_code == 302
    assert Membership.objects.get(organization=tenant.org, user=other_tenant.user).role == "member"


@pytest.mark.django_db
def test_an_expired_invitation_is_refused(tenant) -> None:
    invite(tenant, tenant.client, "late@example.com")
    secret = link_secret(mail.outbox[0])
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = APIClient().post(
        f"/invitations/{secret}",
        {"password1": "x-long-password-1", "password2": "x-long-password-1"},
    )
    assert answer.status_code == 404
    assert not Membership.objects.filter(user__email="late@example.com").exists()


@pytest.mark.django_db
def test_only_owners_make_owners_and_the_last_owner_stays(tenant) -> None:
    admin = person(tenant, "admin@acme.example", Role.ADMIN)
    member = person(tenant, "member@acme.example", Role.MEMBER)
    as_admin = client_of(admin)
    base = f"/api/organizations/{tenant.org.id}/members/"
    assert invite(tenant, as_admin, "boss@example.com", "owner").status_code == 403
    assert (
        as_admin.patch(f"{base}{tenant.user.id}/", {"role": "viewer"}, format="json").status_code
        == 403
    )
    assert as_admin.delete(f"{base}{tenant.user.id}/").status_code == 403
    assert (
        as_admin.patch(f"{base}{member.id}/", {"role": "owner"}, format="json").status_code == 403
    )
    changed = as_admin.patch(f"{base}{member.id}/", {"role": "viewer"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    # The last owner can neither be demoted nor leave.
    assert (
        tenant.client.patch(
            f"{base}{tenant.user.id}/", {"role": "admin"}, format="json"
        ).status_code
        == 409
    )
    assert tenant.client.delete(f"{base}{tenant.user.id}/").status_code == 409
    # A member cannot manage anyone, but may leave.
    as_member = client_of(member)
    assert as_member.delete(f"{base}{admin.id}/").status_code == 403
    assert as_member.delete(f"{base}{member.id}/").status_code == 204
    assert not Membership.objects.filter(user=member).exists()
    listed = tenant.client.get(base).json()["results"]
    assert {row["email"] for row in listed} == {"owner@acme.example", "admin@acme.example"}
    entry = AuditEntry.objects.filter(action="member.role_change").get()
    assert entry.actor == "admin@acme.example" and entry.details == {
        "from": "member",
        "to": "viewer",
    }


@pytest.mark.django_db
def test_another_organization_sees_no_members_nor_invitations(tenant, other_tenant) -> None:
    base = f"/api/organizations/{tenant.org.id}"
    assert other_tenant.client.get(f"{base}/members/").status_code == 404
    assert other_tenant.client.get(f"{base}/invitations/").status_code == 404
    assert invite(tenant, other_tenant.client, "x@example.com").status_code == 404
    assert other_tenant.client.delete(f"{base}/members/{tenant.user.id}/").status_code == 404
