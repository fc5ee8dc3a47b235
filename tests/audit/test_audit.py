"""The audit log: what records it, who reads it (filters, CSV), that the application cannot
change or delete it, and that retention alone removes old entries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from scanpulse.audit.models import AppendOnly, AuditEntry
from scanpulse.audit.retention import audit_purge
from scanpulse.audit.services import record
from scanpulse.scans.housekeeping import run_housekeeping
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import token_create, user_create


@pytest.mark.django_db
def test_entries_cannot_be_changed_or_deleted_by_the_application(tenant) -> None:
    entry = record(action="token.create", actor=tenant.user, organization_id=tenant.org.id)
    entry.target = "forged"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(target="forged")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).target == ""


@pytest.mark.django_db
def test_postgresql_refuses_an_update_even_in_sql(tenant) -> None:
    entry = record(action="token.create", actor=tenant.user, organization_id=tenant.org.id)
    if connection.vendor != "postgresql":
        # SQLite has no such trigger: the application's refusals above are what holds there.
        assert connection.vendor == "sqlite"
        return
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET target = 'forged' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).target == ""


@pytest.mark.django_db
def test_retention_removes_only_old_entries_through_housekeeping(tenant, settings) -> None:
    settings.SCANPULSE_AUDIT_RETENTION_DAYS = 30
    long_ago = timezone.now() - timedelta(days=31)
    with mock.patch("django.utils.timezone.now", return_value=long_ago):
        old = record(action="token.create", actor=tenant.user, organization_id=tenant.org.id)
    recent = record(action="token.revoke", actor=tenant.user, organization_id=tenant.org.id)
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    run_housekeeping()
    assert set(AuditEntry.objects.values_list("pk", flat=True)) == before - {old.pk}
    assert recent.pk in before
    settings.SCANPULSE_AUDIT_RETENTION_DAYS = 0  # keeps everything
    assert audit_purge(now=timezone.now() + timedelta(days=3650)) == 0
    assert AuditEntry.objects.count() == len(before) - 1


def owner_browser(tenant) -> Client:
    browser = Client(REMOTE_ADDR="198.51.100.7")
    signed_in = browser.post(
        "/login/", {"username": tenant.user.email, "password": "a-long-test-password"}
    )
    assert signed_in.status_code == 302
    return browser


@pytest.mark.django_db
def test_the_api_filters_and_exports_the_log(tenant) -> None:
    admin = user_create(email="admin@acme.example", organization=tenant.org, role=Role.ADMIN)
    token_create(user=admin, name="=cmd|' /C calc'!A0")  # a cell that would be a formula
    token_create(user=tenant.user, name="mine")
    url = f"/api/organizations/{tenant.org.id}/audit/"
    everything = tenant.client.get(url).json()
    assert everything["count"] == 3  # the fixture's token, and these two
    by_admin = tenant.client.get(url, {"actor": "admin@acme.example"}).json()["results"]
    assert [(row["action"], row["target"]) for row in by_admin] == [
        ("token.create", "=cmd|' /C calc'!A0")
    ]
    none_yet = tenant.client.get(url, {"since": (timezone.now() + timedelta(hours=1)).isoformat()})
    assert none_yet.json()["count"] == 0
    assert tenant.client.get(url, {"since": "yesterday"}).status_code == 400
    # a parameter that is present must be valid, an empty one too (the schema's enum)
    assert tenant.client.get(url, {"export": ""}).status_code == 400
    assert tenant.client.get(url, {"export": "xlsx"}).status_code == 400
    exported = tenant.client.get(url, {"export": "csv", "action": "token.create"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert {row["target"] for row in rows} == {"tests", "mine", "'=cmd|' /C calc'!A0"}
    member = user_create(email="dev@acme.example", organization=tenant.org, role=Role.MEMBER)
    _, member_token = token_create(user=member, name="m")
    tenant.client.credentials(HTTP_AUTHORIZATION=f"Bearer {member_token}")
    assert tenant.client.get(url).status_code == 403


@pytest.mark.django_db
def test_sign_ins_and_failures_are_recorded_with_the_address(tenant) -> None:
    Client(REMOTE_ADDR="198.51.100.9").post(
        "/login/", {"username": tenant.user.email, "password": "wrong"}
    )
    browser = owner_browser(tenant)
    browser.post("/logout/")
    rows = AuditEntry.objects.filter(organization_id=tenant.org.id).order_by("created_at")
    assert [(row.action, row.address) for row in rows if row.action.startswith("auth.")] == [
        ("auth.sign_in_failed", "198.51.100.9"),
        ("auth.sign_in", "198.51.100.7"),
        ("auth.sign_out", "198.51.100.7"),
    ]


@pytest.mark.django_db
def test_the_audit_page_shows_entries_to_owners_only(tenant) -> None:
    browser = owner_browser(tenant)
    # the filter form sends its empty fields too
    page = browser.get(
        f"/organizations/{tenant.org.id}/audit",
        {"actor": "", "action": "auth.sign_in", "since": "", "until": ""},
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "<code>auth.sign_in</code>" in text and "198.51.100.7" in text
    assert "<code>token.create</code>" not in text  # filtered out
    csv_page = browser.get(f"/organizations/{tenant.org.id}/audit", {"export": "csv"})
    assert "token.create" in csv_page.content.decode()
    user_create(
        email="v@acme.example",
        organization=tenant.org,
        role=Role.VIEWER,
        password="pw-long-enough-1",
    )
    viewer = Client()
    assert viewer.login(username="v@acme.example", password="pw-long-enough-1")
    assert viewer.get(f"/organizations/{tenant.org.id}/audit").status_code == 403


@pytest.mark.django_db
def test_two_factor_changes_appear_in_the_audit_log(tenant) -> None:
    import pyotp
    from django.core.cache import cache

    from scanpulse.tenancy.models import TwoFactor

    cache.clear()  # wrong-code limits of earlier tests
    browser = owner_browser(tenant)
    enrolment = browser.get("/account/two-factor/").context["enrolment"]
    totp = pyotp.TOTP(enrolment.secret)
    assert (
        browser.post("/account/two-factor/", {"action": "confirm", "code": "12345"}).status_code
        == 400
    )
    turned_on = browser.post("/account/two-factor/", {"action": "confirm", "code": totp.now()})
    first_codes = turned_on.context["recovery_codes"]

    def next_code() -> str:
        step = TwoFactor.objects.get(user=tenant.user).last_counter + 1
        return totp.at(step * 30)

    # The next sign-in: a wrong code, then a recovery code.
    other = Client(REMOTE_ADDR="198.51.100.8")
    other.post("/login/", {"username": tenant.user.email, "password": "a-long-test-password"})
    assert (
        other.post(
            "/login/two-factor/", {"code": "000000" if next_code() != "000000" else "111111"}
        ).status_code
        == 400
    )
    assert other.post("/login/two-factor/", {"code": first_codes[0]}).status_code == 302
    replaced = browser.post("/account/two-factor/", {"action": "regenerate", "code": next_code()})
    new_codes = replaced.context["recovery_codes"]
    assert set(new_codes).isdisjoint(first_codes)
    assert (
        browser.post(
            "/account/two-factor/", {"action": "disable", "code": new_codes[0]}
        ).status_code
        == 302
    )

    url = f"/api/organizations/{tenant.org.id}/audit/"
    rows = tenant.client.get(url, {"actor": tenant.user.email}).json()["results"]
    seen = [
        (row["action"], row["address"], row["target"], row["details"])
        for row in reversed(rows)
        if row["action"].startswith("auth.") and row["action"] != "auth.sign_in"
    ]
    me = tenant.user.email
    assert seen == [
        ("auth.two_factor_failed", "198.51.100.7", me, {"during": "enrolment"}),
        ("auth.two_factor_enable", "198.51.100.7", me, {}),
        ("auth.two_factor_failed", "198.51.100.8", me, {"during": "sign-in"}),
        ("auth.recovery_code_use", "198.51.100.8", me, {"during": "sign-in", "left": 9}),
        ("auth.recovery_codes_regenerate", "198.51.100.7", me, {}),
        ("auth.recovery_code_use", "198.51.100.7", me, {"during": "turning off", "left": 9}),
        ("auth.two_factor_disable", "198.51.100.7", me, {}),
    ]
    # No code, used or not, is ever in the log.
    text = tenant.client.get(url, {"export": "csv"}).content.decode()
    assert not any(code in text for code in first_codes + new_codes)
    page = browser.get(f"/organizations/{tenant.org.id}/audit").content.decode()
    assert "<code>auth.two_factor_disable</code>" in page
