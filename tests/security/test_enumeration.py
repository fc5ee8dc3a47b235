"""Nothing answers differently for "exists but not yours", "deleted", "revoked" or "expired"
than for "never existed": same status, same body, byte for byte — on the API, the stream
endpoints and the pages of a real server. And token checks look tokens up by digest only."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan
from scanpulse.tenancy.services import token_authenticate, token_create, token_revoke
from scanpulse.tenancy.tokens import generate_token, token_digest
from tests.security import seed

pytestmark = pytest.mark.services

PASSWORD = "a-long-test-password"

# Every route with an object in its path, Django's and the plain-ASGI stream.
OBJECT_ROUTES = [
    ("GET", "/api/projects/{project}/"),
    ("PATCH", "/api/projects/{project}/"),
    ("DELETE", "/api/projects/{project}/"),
    ("GET", "/api/scans/{scan}/"),
    ("POST", "/api/scans/{scan}/cancel"),
    ("GET", "/api/scans/{scan}/findings/"),
    ("GET", "/api/scans/{scan}/status"),
    ("GET", "/api/scans/{scan}/events"),
    ("GET", "/api/scans/{scan}/sarif"),
    ("GET", "/api/scans/{scan}/progress"),
]
PAGES = [
    "/projects/{project}/",
    "/scans/{scan}/",
    "/projects/{project}/alerts/export?format=csv",
    "/projects/{project}/alerts/export?format=json",
]


def _normalized(body: bytes) -> bytes:
    # Pages carry a CSRF token, masked anew on every response.
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"csrf", body)


def answer(client: httpx.Client, method: str, path: str) -> tuple[int, str, bytes]:
    body = {"name": "renamed"} if method == "PATCH" else None
    response = client.request(method, path, json=body)
    return response.status_code, response.headers.get("content-type", ""), response.content


@pytest.fixture
def world(servers, tenant, other_tenant, tmp_path):
    """The caller's view: another organization's objects, objects that were deleted, ids
    that never existed."""
    foreign_project = seed.project(other_tenant, tmp_path, "theirs")
    foreign_scan = seed.completed_scan(foreign_project)
    gone_project = seed.project(tenant, tmp_path, "gone")
    gone_scan = seed.completed_scan(gone_project)
    ids = {
        "foreign": {"project": foreign_project.id, "scan": foreign_scan.id},
        "deleted": {"project": gone_project.id, "scan": gone_scan.id},
        "unknown": {"project": uuid.uuid4(), "scan": uuid.uuid4()},
    }
    Project.objects.filter(pk=gone_project.id).delete()
    assert not Scan.objects.filter(pk=gone_scan.id).exists()
    return servers(), ids


def test_foreign_deleted_and_unknown_objects_answer_identically(world, tenant) -> None:
    server, ids = world
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30
    ) as client:
        for method, route in OBJECT_ROUTES:
            answers = {
                kind: answer(client, method, route.format(**objects))
                for kind, objects in ids.items()
            }
            assert answers["foreign"][0] == 404, (route, answers["foreign"])
            assert answers["foreign"] == answers["deleted"] == answers["unknown"], route
            assert b'"not_found"' in answers["foreign"][2]


def test_pages_of_foreign_deleted_and_unknown_objects_are_the_same_404(world, tenant) -> None:
    server, ids = world
    tenant.user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsalt", iterations=1000)
    tenant.user.save(update_fields=["password"])
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        _sign_in(browser, tenant.user.email)
        for page in PAGES:
            answers = {kind: browser.get(page.format(**objects)) for kind, objects in ids.items()}
            bodies = {_normalized(response.content) for response in answers.values()}
            assert {response.status_code for response in answers.values()} == {404}, page
            assert len(bodies) == 1, page


def _sign_in(browser: httpx.Client, email: str) -> str:
    form = browser.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    response = browser.post(
        "/login/",
        data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
    )
    assert response.status_code == 302, response.text
    return browser.cookies["sessionid"]


def test_revoked_tokens_answer_like_tokens_that_never_existed(servers, tenant, tmp_path) -> None:
    project = seed.project(tenant, tmp_path)
    scan = seed.completed_scan(project)
    revoked, revoked_token = token_create(user=tenant.user, name="old laptop")
    token_revoke(api_token=revoked)
    never = generate_token()
    server = servers()
    paths = [
        "/api/projects/",
        f"/api/projects/{project.id}/",
        f"/api/scans/{scan.id}/sarif",
        f"/api/scans/{scan.id}/progress",
        f"/api/stream?organization={tenant.org.id}",
    ]
    for path in paths:
        answers = [
            httpx.get(server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            for token in (revoked_token, never)
        ]
        assert [response.status_code for response in answers] == [401, 401], path
        assert answers[0].content == answers[1].content, path
        assert answers[0].headers["www-authenticate"] == answers[1].headers["www-authenticate"]


def test_expired_sessions_answer_like_no_session(servers, tenant, tmp_path) -> None:
    project = seed.project(tenant, tmp_path)
    scan = seed.completed_scan(project)
    tenant.user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsalt", iterations=1000)
    tenant.user.save(update_fields=["password"])
    server = servers()
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        session = _sign_in(browser, tenant.user.email)
    assert (
        httpx.get(
            f"{server.url}/api/projects/{project.id}/", cookies={"sessionid": session}
        ).status_code
        == 200
    )
    Session.objects.filter(session_key=session).update(expire_date=timezone.now() - timedelta(1))

    paths = [
        f"/api/projects/{project.id}/",
        f"/api/scans/{scan.id}/progress",
        f"/projects/{project.id}/",
        "/",
    ]
    for path in paths:
        expired = httpx.get(server.url + path, cookies={"sessionid": session}, timeout=30)
        invented = httpx.get(server.url + path, cookies={"sessionid": "x" * 32}, timeout=30)
        anonymous = httpx.get(server.url + path, timeout=30)
        assert expired.status_code in (401, 302), (path, expired.status_code)
        for other in (invented, anonymous):
            assert other.status_code == expired.status_code, path
            assert _normalized(other.content) == _normalized(expired.content), path
            assert other.headers.get("location") == expired.headers.get("location"), path


# --- token checks go by digest ---------------------------------------------------------------


def test_token_lookups_go_by_digest_only(tenant) -> None:
    """The clear token never reaches the database: the lookup is an equality on the SHA-256
    digest of whatever was presented, in a unique index. How much of a guess matches a real
    token changes nothing about that lookup (see docs/security.md on timing)."""
    candidates = [
        tenant.token,  # the real one
        tenant.token[:-1] + ("A" if tenant.token[-1] != "A" else "B"),  # all but one character
        tenant.token[:12] + "x" * (len(tenant.token) - 12),  # the shown prefix only
        generate_token(),  # unrelated
        "spt_",  # almost nothing
    ]
    for candidate in candidates:
        with CaptureQueriesContext(connection) as queries:
            found = token_authenticate(token=candidate)
        assert (found is not None) == (candidate == tenant.token)
        lookups = [q["sql"] for q in queries.captured_queries if "SELECT" in q["sql"].upper()]
        assert len(lookups) == 1, lookups
        (sql,) = lookups
        digest = hashlib.sha256(candidate.encode()).hexdigest()
        assert digest == token_digest(candidate)
        assert digest in sql
        assert candidate not in sql.replace(digest, "")
        where = sql.upper().split(" WHERE ", 1)[1]
        assert '"DIGEST" =' in where.replace("`", '"')
        assert "PREFIX" not in where and "LIKE" not in where


def test_digests_are_stored_never_tokens(tenant) -> None:
    from scanpulse.tenancy.models import ApiToken

    stored = ApiToken.objects.get(pk=tenant.api_token.pk)
    assert stored.digest == hashlib.sha256(tenant.token.encode()).hexdigest()
    values = [str(value) for value in ApiToken.objects.values_list().get(pk=stored.pk)]
    assert tenant.token not in values
    assert stored.prefix == tenant.token[:12]  # to recognise it; 8 of its 40 random characters
