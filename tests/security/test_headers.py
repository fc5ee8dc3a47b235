"""Security headers on every page a real server sends — the site's, the admin's, the API docs,
error pages — and on what it answers outside Django (streams, probes, a 413), and production
settings that pass Django's deployment checks."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.security import seed
from tests.support.analyzers import suite_analyzers
from tests.support.browser import CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.services

PASSWORD = "a-long-test-password"
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(rb"<[^>]+\sstyle\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(rb"<style[\s>]", re.IGNORECASE)


def csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    directives: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        directives[name] = values
    return directives


def assert_page_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    assert response.headers["content-type"].startswith("text/html"), where
    policy = csp(response)
    assert policy["default-src"] == ["'self'"], where
    assert policy["script-src"] == ["'self'"], where  # no inline, no eval, no CDN
    assert policy["style-src"] == ["'self'"], where
    assert policy["frame-ancestors"] == ["'none'"], where
    assert policy["object-src"] == ["'none'"], where
    assert response.headers["x-frame-options"] == "DENY", where
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["referrer-policy"] == "same-origin", where
    # The pages work under that policy: nothing inline that it would block.
    body = response.content
    assert not INLINE_SCRIPT.search(body), where
    assert not EVENT_HANDLER.search(body), where
    assert not STYLE_ATTRIBUTE.search(body), where
    assert not INLINE_STYLE.search(body), where


@pytest.fixture
def site(servers, tenant, tmp_path):
    tenant.user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsalt", iterations=1000)
    tenant.user.is_staff = tenant.user.is_superuser = True
    tenant.user.save()
    project = seed.project(tenant, tmp_path)
    scan = seed.completed_scan(project)
    return servers(), project, scan


def _csrf(response: httpx.Response) -> str:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    assert token is not None
    return token.group(1)


def test_every_kind_of_page_carries_the_headers(site, tenant) -> None:
    server, project, scan = site
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        anonymous = [
            browser.get("/login/"),
            browser.get("/admin/login/"),
            browser.get("/api/docs/"),
            browser.get("/no/such/page/"),  # 404 page
            browser.post("/login/", data={"username": "x", "password": "y"}),  # CSRF failure
            browser.get("/", headers={"Host": "evil.example"}),  # refused Host: 400 page
        ]
        assert [r.status_code for r in anonymous] == [200, 200, 200, 404, 403, 400]
        assert "did not come from this site" in anonymous[4].text
        for response in anonymous:
            assert_page_headers(response)

        login = browser.get("/login/")
        signed_in = browser.post(
            "/login/",
            data={
                "username": tenant.user.email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": _csrf(login),
            },
        )
        assert signed_in.status_code == 302
        pages = [
            "/",
            "/projects/",
            f"/projects/{project.id}/",
            f"/scans/{scan.id}/",
            "/admin/",
            "/admin/projects/project/",
            f"/admin/projects/project/{project.id}/change/",
            "/projects/00000000-0000-0000-0000-000000000000/",  # a page's 404
        ]
        for page in pages:
            response = browser.get(page)
            assert response.status_code in (200, 404), (page, response.status_code)
            assert_page_headers(response)


def test_api_responses_and_the_docs_script_are_not_sniffable_or_frameable(site, tenant) -> None:
    server, _, _ = site
    with httpx.Client(base_url=server.url, timeout=30) as client:
        responses = [
            client.get("/api/projects/", headers={"Authorization": f"Bearer {tenant.token}"}),
            client.get("/api/projects/"),  # 401
            client.get("/api/schema/"),
            client.get("/api/docs/?script="),
        ]
        assert [r.status_code for r in responses] == [200, 401, 200, 200]
        assert responses[3].headers["content-type"].startswith("application/javascript")
        for response in responses:
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "same-origin"


# What Django's SecurityMiddleware and the page middleware put on every response.
SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "strict-transport-security",
)


def security_headers(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in SECURITY_HEADERS}


def responses_made_outside_django(
    client: httpx.Client, tenant, scan, **extra: str
) -> dict[str, httpx.Response]:
    """One of each response the ASGI entry point, the streams and the probes make."""
    auth = {"Authorization": f"Bearer {tenant.token}", **extra}
    progress = f"/api/scans/{scan.id}/progress"
    made = {
        "413": client.post(
            "/api/projects/",
            content=b"{}" + b" " * 4096,
            headers={**auth, "content-type": "application/json"},
        ),
        "stream 401": client.get(progress, headers=extra),
        "stream 404": client.get(
            "/api/scans/00000000-0000-0000-0000-000000000000/progress", headers=auth
        ),
        "stream 400": client.get(progress, headers={**auth, "Last-Event-ID": "x"}),
        "stream 405": client.post(progress, headers=auth),
        "stream 204": client.get(
            progress, headers={**auth, "Last-Event-ID": str(scan.last_event_seq)}
        ),
        "healthz": client.get("/healthz", headers=extra),
        "metrics": client.get("/metrics", headers=extra),
        "metrics 403": client.get("/metrics", headers={**extra, "X-Forwarded-For": "203.0.113.9"}),
    }
    # The organization stream never ends by itself: open, it takes the only slot.
    with client.stream("GET", "/api/stream", headers=auth) as open_stream:
        made["stream 200"] = open_stream
        made["stream 429"] = client.get(progress, headers={**auth, "Last-Event-ID": "0"})
    return made


EXPECTED_STATUSES = {
    "413": 413,
    "stream 401": 401,
    "stream 404": 404,
    "stream 400": 400,
    "stream 405": 405,
    "stream 204": 204,
    "healthz": 200,
    "metrics": 200,
    "metrics 403": 403,
    "stream 200": 200,
    "stream 429": 429,
}


def test_responses_made_outside_django_carry_the_same_headers(servers, tenant, tmp_path) -> None:
    scan = seed.completed_scan(seed.project(tenant, tmp_path))
    server = servers(SCANPULSE_STREAMS_PER_ORG="1", SCANPULSE_MAX_BODY_BYTES="1024")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/login/")
        assert page.status_code == 200
        assert_page_headers(page)
        expected = security_headers(page)
        assert expected["cross-origin-opener-policy"] == "same-origin"
        assert expected["strict-transport-security"] is None  # plain HTTP
        assert security_headers(client.get("/api/projects/")) == expected  # DRF's 401
        made = responses_made_outside_django(client, tenant, scan)
    for name, response in made.items():
        assert security_headers(response) == expected, name
        assert response.headers["x-frame-options"] == "DENY", name
    assert {name: r.status_code for name, r in made.items()} == EXPECTED_STATUSES
    assert made["stream 200"].headers["content-type"] == "text/event-stream"
    assert made["metrics"].text.startswith("# HELP")
    assert made["metrics 403"].json()["error"]["code"] == "permission_denied"


def test_outside_django_too_https_responses_carry_hsts(servers, tenant, redis, tmp_path) -> None:
    scan = seed.completed_scan(seed.project(tenant, tmp_path))
    server = servers(
        DJANGO_SETTINGS_MODULE="scanpulse.config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        SCANPULSE_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        REDIS_URL=redis.url,
        ALLOWED_HOSTS="127.0.0.1",
        SCANPULSE_STREAMS_PER_ORG="1",
        SCANPULSE_MAX_BODY_BYTES="1024",
    )
    through_tls = {"X-Forwarded-Proto": "https"}  # as nginx forwards it
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/login/", headers=through_tls)
        assert page.status_code == 200
        expected = security_headers(page)
        assert "max-age=31536000" in (expected["strict-transport-security"] or "")
        made = responses_made_outside_django(client, tenant, scan, **through_tls)
    for name, response in made.items():
        assert security_headers(response) == expected, name
    assert {name: r.status_code for name, r in made.items()} == EXPECTED_STATUSES


def test_swagger_ui_is_served_from_this_origin(site) -> None:
    server, _, _ = site
    page = httpx.get(f"{server.url}/api/docs/", timeout=30)
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        assert httpx.get(server.url + source, timeout=30).status_code == 200, source


@pytest.mark.browser
def test_swagger_ui_runs_under_the_policy_in_a_real_browser(site) -> None:
    from playwright.sync_api import sync_playwright

    server, _, _ = site
    chromium = require_chromium()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda message: (
                    problems.append(message.text)
                    if "Content Security Policy" in message.text or message.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
            page.goto(f"{server.url}/api/docs/")
            page.wait_for_selector("text=scanpulse API", timeout=20_000)
            page.wait_for_selector("text=/api/projects/", timeout=20_000)
        finally:
            browser.close()
    assert problems == []


# --- production settings ---------------------------------------------------------------------


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SCANPULSE_", "DJANGO_", "DATABASE_", "REDIS_"))
        and name not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    return env | {
        **suite_analyzers(),
        "DJANGO_SETTINGS_MODULE": "scanpulse.config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SCANPULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "scanpulse.example.com",
        "SCANPULSE_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


def test_the_deployment_checks_pass_with_production_settings(tmp_path: Path) -> None:
    scanpulse = str(Path(sys.executable).with_name("scanpulse"))
    result = subprocess.run(
        [scanpulse, "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_are_secure_and_https_is_enforced(servers, tenant, redis) -> None:
    tenant.user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsalt", iterations=1000)
    tenant.user.save(update_fields=["password"])
    server = servers(
        DJANGO_SETTINGS_MODULE="scanpulse.config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        SCANPULSE_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        REDIS_URL=redis.url,
        ALLOWED_HOSTS="127.0.0.1",
    )
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        plain = browser.get("/login/")
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")
        # As nginx forwards it: the request came over HTTPS.
        page = browser.get("/login/", headers={"X-Forwarded-Proto": "https"})
        assert page.status_code == 200
        assert "max-age=31536000" in page.headers["strict-transport-security"]
        assert "includeSubDomains" in page.headers["strict-transport-security"]
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("csrftoken=")
        assert "Secure" in cookie and "SameSite=Lax" in cookie
        # A client sends no Secure cookie over plain HTTP: send it back by hand, as the
        # browser does to the TLS proxy in front.
        host = server.url.removeprefix("http://")
        signed_in = browser.post(
            "/login/",
            data={
                "username": tenant.user.email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": _csrf(page),
            },
            headers={
                "X-Forwarded-Proto": "https",
                "Referer": f"https://{host}/login/",
                "Cookie": cookie.split(";")[0],
            },
        )
        assert signed_in.status_code == 302, signed_in.text
        session = [
            c for c in signed_in.headers.get_list("set-cookie") if c.startswith("sessionid=")
        ]
        assert session and "Secure" in session[0] and "HttpOnly" in session[0]
