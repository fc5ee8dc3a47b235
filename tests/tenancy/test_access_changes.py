"""The log of access changes: every change that may alter who a credential is appends to it,
made through the application or in SQL, and nothing else does. The stream and polling edge
reads its credentials again only when the log moved (tests/events/test_polling_edge.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from scanpulse.tenancy.models import AccessChange, ApiToken, Membership, Role
from scanpulse.tenancy.selectors import access_generation
from scanpulse.tenancy.services import prune_access_changes, token_create, token_revoke


def _session(tenant) -> str:
    store = SessionStore()
    store["_auth_user_id"] = str(tenant.user.pk)
    store.create()
    return store.session_key


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


CHANGES = {
    "token revoked": lambda t: token_revoke(api_token=t.api_token),
    "token revoked in SQL": lambda t: _sql(
        f"UPDATE {ApiToken._meta.db_table} SET revoked_at = %s WHERE digest = %s",  # noqa: S608
        [timezone.now(), t.api_token.digest],
    ),
    "token expiry brought forward": lambda t: ApiToken.objects.filter(pk=t.api_token.pk).update(
        expires_at=timezone.now() + timedelta(minutes=1)
    ),
    "token deleted": lambda t: ApiToken.objects.filter(pk=t.api_token.pk).delete(),
    "member added": lambda t: Membership.objects.create(
        organization=t.other.org, user=t.user, role=Role.MEMBER
    ),
    "role changed": lambda t: Membership.objects.filter(user=t.user).update(role=Role.MEMBER),
    "membership deleted in SQL": lambda t: _sql(
        f"DELETE FROM {Membership._meta.db_table} WHERE user_id = %s",  # noqa: S608
        [t.user.pk],
    ),
    "organization deleted": lambda t: t.org.delete(),
    "user deactivated": lambda t: type(t.user).objects.filter(pk=t.user.pk).update(is_active=False),
    "password changed": lambda t: t.user.set_password("another-long-password") or t.user.save(),
    "user deleted": lambda t: t.user.delete(),
    "session changed": lambda t: Session.objects.filter(session_key=t.session).update(
        expire_date=timezone.now() + timedelta(minutes=1)
    ),
    "session deleted in SQL": lambda t: _sql(
        f"DELETE FROM {Session._meta.db_table} WHERE session_key = %s",  # noqa: S608
        [t.session],
    ),
}

UNRELATED = {
    "token used": lambda t: ApiToken.objects.filter(pk=t.api_token.pk).update(
        last_used_at=timezone.now()
    ),
    "user signed in again": lambda t: (
        type(t.user).objects.filter(pk=t.user.pk).update(last_login=timezone.now())
    ),
    "session created": _session,
    "token created": lambda t: token_create(user=t.user, name="another"),
    "user created": lambda t: get_user_model().objects.create_user("someone@else.example"),
}


@pytest.fixture
def setting(tenant, other_tenant):
    tenant.other = other_tenant
    tenant.session = _session(tenant)
    return tenant


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_of_access_moves_the_log(setting, change) -> None:
    before = access_generation()
    CHANGES[change](setting)
    after = access_generation()
    assert after != before
    assert after[1] > before[1]


@pytest.mark.parametrize("change", list(UNRELATED))
def test_changes_that_alter_no_credential_leave_the_log_alone(setting, change) -> None:
    before = access_generation()
    UNRELATED[change](setting)
    assert access_generation() == before


def test_a_change_committed_late_moves_the_log_although_a_later_id_was_seen(db) -> None:
    # Ids are handed out before commit: a reader may see id 12 before id 11 commits. The
    # count of rows still moves when 11 appears.
    late, seen_last = AccessChange.objects.create().id, AccessChange.objects.create().id
    AccessChange.objects.filter(id=late).delete()  # not committed yet, as readers see it
    seen = access_generation()
    assert seen[1] == seen_last
    AccessChange.objects.create(id=late)  # commits now
    assert access_generation() != seen
    assert access_generation()[1] == seen_last


def test_pruning_keeps_the_last_changes(db) -> None:
    AccessChange.objects.all().delete()  # what other tests' set-up committed
    for _ in range(30):
        AccessChange.objects.create()
    last = AccessChange.objects.order_by("-id").first().id
    assert prune_access_changes(keep=10) == 20
    assert list(AccessChange.objects.order_by("id").values_list("id", flat=True)) == list(
        range(last - 9, last + 1)
    )
    assert access_generation() == (10, last)


def test_every_user_model_row_change_is_seen_even_in_one_statement_for_many(db) -> None:
    users = [get_user_model().objects.create_user(f"user{index}") for index in range(5)]
    before = access_generation()
    get_user_model().objects.filter(pk__in=[user.pk for user in users]).update(is_active=False)
    assert access_generation() != before
