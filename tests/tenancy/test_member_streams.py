"""Removing a member or revoking a token through the API closes their open streams at once,
served by another web process (two real servers behind one Redis, as in production)."""

from __future__ import annotations

import httpx
import pytest

from scanpulse.audit.models import AuditEntry
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import token_create, user_create
from tests.events.test_stream_access import (
    PROMISE,
    bearer,
    closes_within,
    opened,
    status_of,
    streams_of,
)
from tests.events.test_streams import stream

pytestmark = pytest.mark.services


def test_removing_a_member_closes_their_streams_at_once(pair, tenant, scan) -> None:
    member = user_create(email="dev@acme.example", organization=tenant.org, role=Role.MEMBER)
    _, token = token_create(user=member, name="dashboard")
    scan_path, org_path = streams_of(tenant, scan)
    with (
        stream(pair[1], org_path, token, timeout=PROMISE + 3) as dashboard,
        stream(pair[1], scan_path, token, last_event_id=0, timeout=PROMISE + 3) as progress,
    ):
        opened(dashboard), opened(progress)
        removed = httpx.delete(
            f"{pair[0].url}/api/organizations/{tenant.org.id}/members/{member.id}/",
            headers=bearer(tenant.token),
            timeout=10,
        )
        assert removed.status_code == 204, removed.text
        closes_within(dashboard), closes_within(progress)
    assert status_of(pair[1], org_path, **bearer(token)) == 404
    entry = AuditEntry.objects.get(action="member.remove")
    assert (entry.actor, entry.target, entry.address) == (
        tenant.user.email,
        member.email,
        "127.0.0.1",
    )


def test_revoking_a_token_in_the_api_closes_its_streams_at_once(pair, tenant, scan) -> None:
    created = httpx.post(
        f"{pair[0].url}/api/tokens/",
        json={"name": "wall screen", "scope": "read"},
        headers=bearer(tenant.token),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    _, org_path = streams_of(tenant, scan)
    with stream(pair[1], org_path, token, timeout=PROMISE + 3) as dashboard:
        opened(dashboard)
        revoked = httpx.delete(
            f"{pair[0].url}/api/tokens/{created.json()['id']}/",
            headers=bearer(tenant.token),
            timeout=10,
        )
        assert revoked.status_code == 204
        closes_within(dashboard)
    assert status_of(pair[1], org_path, **bearer(token)) == 401
