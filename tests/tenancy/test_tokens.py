"""API tokens: created once in clear, stored hashed, usable, revocable."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from scanpulse.tenancy.models import ApiToken
from scanpulse.tenancy.services import token_authenticate, token_create, token_revoke
from scanpulse.tenancy.tokens import token_digest


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_token_is_stored_only_as_a_digest(tenant) -> None:
    stored = ApiToken.objects.get(pk=tenant.api_token.pk)
    assert tenant.token not in (stored.digest, stored.prefix, stored.name)
    assert stored.digest == token_digest(tenant.token)
    assert tenant.token.startswith(stored.prefix)
    assert len(tenant.token) > 40


def test_use_records_last_used(tenant) -> None:
    assert ApiToken.objects.get(pk=tenant.api_token.pk).last_used_at is None
    assert tenant.client.get("/api/projects/").status_code == 200
    assert ApiToken.objects.get(pk=tenant.api_token.pk).last_used_at is not None


def test_revoked_token_gets_401(tenant) -> None:
    assert tenant.client.get("/api/projects/").status_code == 200
    token_revoke(api_token=tenant.api_token)
    response = tenant.client.get("/api/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_inactive_user_tokens_stop_working(tenant) -> None:
    tenant.user.is_active = False
    tenant.user.save()
    assert tenant.client.get("/api/projects/").status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer " + "x" * 300, "Token abc"]
)
def test_malformed_headers_get_401(db, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/projects/").status_code == 401


def test_tokens_are_independent(tenant) -> None:
    second, value = token_create(user=tenant.user, name="second")
    token_revoke(api_token=second)
    assert client_with(value).get("/api/projects/").status_code == 401
    assert tenant.client.get("/api/projects/").status_code == 200


def test_a_near_miss_is_not_a_token(tenant) -> None:
    near = tenant.token[:-1] + ("A" if tenant.token[-1] != "A" else "B")
    assert token_authenticate(token=near) is None


def test_session_auth_requires_csrf_for_unsafe_methods(tenant, repo_dir) -> None:
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=tenant.user.username, password="a-long-test-password")
    assert client.get("/api/projects/").status_code == 200
    refused = client.post("/api/projects/", {"name": "x", "repo_url": str(repo_dir)}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
