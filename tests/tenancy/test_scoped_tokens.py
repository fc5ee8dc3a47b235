"""Token scopes, expiry and last use; the token API."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from scanpulse.audit.models import AuditEntry
from scanpulse.projects.models import Project
from scanpulse.tenancy.models import ApiToken, TokenScope
from scanpulse.tenancy.services import token_create


def client(token: str) -> APIClient:
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def project(tenant, tmp_path) -> Project:
    return Project.objects.create(organization=tenant.org, name="app", repo_url=str(tmp_path))


@pytest.mark.django_db
def test_each_scope_does_what_the_matrix_says(tenant, project) -> None:
    triage = f"/api/projects/{project.id}/alerts/triage"
    body = {"alerts": [str(uuid.uuid4())], "action": "reopen"}
    results = {}
    for scope in TokenScope.values:
        _, token = token_create(user=tenant.user, name=scope, scope=scope)
        api = client(token)
        results[scope] = (
            api.get(f"/api/projects/{project.id}/").status_code,
            api.post(triage, body, format="json").status_code,  # 400: allowed, unknown alert
            api.patch(f"/api/projects/{project.id}/", {"name": "x"}, format="json").status_code,
            api.post("/api/tokens/", {"name": "more", "scope": "admin"}, format="json").status_code,
        )
    assert results == {
        "read": (200, 403, 403, 403),
        "scan": (200, 400, 403, 403),
        "admin": (200, 400, 200, 201),
    }


@pytest.mark.django_db
def test_a_token_is_shown_once_and_listed_with_its_last_use(tenant) -> None:
    created = tenant.client.post(
        "/api/tokens/", {"name": "ci", "scope": "scan", "expires_in_days": 30}, format="json"
    )
    assert created.status_code == 201
    value = created.json()["token"]
    assert created["Cache-Control"] == "no-store"
    assert client(value).get("/api/projects/").status_code == 200
    listed = {row["name"]: row for row in tenant.client.get("/api/tokens/").json()["results"]}
    assert "token" not in listed["ci"]
    assert listed["ci"]["scope"] == "scan"
    assert listed["ci"]["last_used_address"] == "203.0.113.9"
    assert listed["ci"]["last_used_at"] is not None
    assert listed["ci"]["expires_at"].startswith(str((timezone.now() + timedelta(days=30)).date()))
    revoked = tenant.client.delete(f"/api/tokens/{listed['ci']['id']}/")
    assert revoked.status_code == 204
    assert client(value).get("/api/projects/").status_code == 401
    actions = list(
        AuditEntry.objects.filter(target="ci")
        .order_by("created_at")
        .values_list("action", flat=True)
    )
    assert actions == ["token.create", "token.revoke"]


@pytest.mark.django_db
def test_an_expired_token_no_longer_authenticates(tenant) -> None:
    api_token, value = token_create(user=tenant.user, name="short", expires_in_days=1)
    assert client(value).get("/api/projects/").status_code == 200
    ApiToken.objects.filter(pk=api_token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client(value).get("/api/projects/").status_code == 401


@pytest.mark.django_db
def test_another_users_token_cannot_be_revoked(tenant, other_tenant) -> None:
    answer = other_tenant.client.delete(f"/api/tokens/{tenant.api_token.id}/")
    assert answer.status_code == 404
    tenant.api_token.refresh_from_db()
    assert tenant.api_token.revoked_at is None
