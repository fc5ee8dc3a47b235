"""Single sign-on through a real OpenID Connect provider (Node's oidc-provider over HTTPS on
127.0.0.1) and a real ``scanpulse serve``, driven in Chromium: PKCE, just-in-time accounts
with the mapped organization and role, sign-out at the provider, and each refusal."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.web.harness import PASSWORD, Seed, Site, scanpulse


@pytest.fixture(scope="module")
def sso(
    seeded: Seed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Site, OidcProvider]]:
    root = tmp_path_factory.mktemp("sso")
    provider = OidcProvider(root)
    site = Site(
        seeded,
        root / "site",
        {
            "SCANPULSE_OIDC_ISSUER": provider.issuer,
            "SCANPULSE_OIDC_CLIENT_ID": CLIENT_ID,
            "SCANPULSE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "SCANPULSE_OIDC_SCOPES": "openid email groups",
            "SCANPULSE_OIDC_CA_BUNDLE": str(provider.cert),
            # The provider is on this machine: allowed as a private git host would be.
            "SCANPULSE_GIT_ALLOWED_NETWORKS": "127.0.0.1/32",
            "SCANPULSE_OIDC_DOMAINS": json.dumps({"acme.example": "acme:member"}),
            "SCANPULSE_OIDC_GROUPS": json.dumps({"scanpulse-admins": "acme:admin"}),
        },
    )
    provider.start(redirect_uri=f"{site.url}/sso/callback/", post_logout_uri=f"{site.url}/login/")
    try:
        site.start()
        try:
            yield site, provider
        finally:
            site.stop()
    finally:
        provider.stop()


@pytest.fixture
def sso_page(browser: Browser, sso: tuple[Site, OidcProvider]) -> Iterator[Page]:
    """A fresh browser; the provider's certificate is the test's own, so its pages are
    accepted as they are. Our pages must run under their policy without a violation."""
    site, _ = sso
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if "Content Security Policy" in message.text and page.url.startswith(site.url)
            else None
        ),
    )
    yield page
    context.close()
    assert problems == []


def _memberships(site: Site, email: str) -> dict[str, str]:
    with sqlite3.connect(site.data_dir / "db.sqlite3") as db:
        rows = db.execute(
            "SELECT o.name, m.role FROM tenancy_membership m "
            "JOIN auth_user u ON u.id = m.user_id "
            "JOIN tenancy_organization o ON o.id = m.organization_id WHERE u.username = ?",
            (email,),
        ).fetchall()
    return dict(rows)


def _account_exists(site: Site, email: str) -> bool:
    with sqlite3.connect(site.data_dir / "db.sqlite3") as db:
        return (
            db.execute("SELECT 1 FROM auth_user WHERE username = ?", (email,)).fetchone()
            is not None
        )


def _sign_in_at_provider(page: Page, site: Site, login: str) -> list[str]:
    """Start single sign-on on the login page and sign in at the provider as ``login``;
    returns the authorization requests the browser sent."""
    requests: list[str] = []
    page.on(
        "request", lambda request: requests.append(request.url) if "/auth?" in request.url else None
    )
    page.goto(f"{site.url}/login/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    return requests


def _consent(page: Page) -> None:
    page.get_by_role("button", name="Continue").click()


def test_sign_in_with_pkce_creates_the_account_with_the_mapped_role_then_signs_out(
    sso: tuple[Site, OidcProvider], sso_page: Page
) -> None:
    site, _ = sso
    page = sso_page
    assert not _account_exists(site, "dana@acme.example")
    requests = _sign_in_at_provider(page, site, "dana@acme.example")
    _consent(page)
    expect(page.locator(".account")).to_contain_text("dana@acme.example")
    assert page.url.startswith(site.url)

    query = parse_qs(urlsplit(requests[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256 digest
    assert query["state"][0] and query["nonce"][0]
    # The email domain gives acme as a member; the group claim makes dana an admin there.
    assert _memberships(site, "dana@acme.example") == {"acme": "admin"}

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="You are signed out of scanpulse")).to_be_visible()
    page.get_by_role("link", name="Sign out of the identity provider too").click()
    page.locator("button[autofocus], button[type=submit]").first.click()  # the provider asks
    expect(page).to_have_url(f"{site.url}/login/")
    # Signed out at the provider too: signing in again asks for the login again.
    page.get_by_role("link", name="Sign in with SSO").click()
    expect(page.locator("input[name=login]")).to_be_visible()
    page.goto(f"{site.url}/projects/")
    expect(page).to_have_url(f"{site.url}/login/?next=/projects/")


def _sign_ins(site: Site, email: str) -> int:
    with sqlite3.connect(site.data_dir / "db.sqlite3") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM audit_auditentry WHERE action = 'auth.sign_in' AND actor = ?",
            (email,),
        ).fetchone()
    return int(count)


def test_a_single_sign_on_is_in_the_organizations_audit_log(
    sso: tuple[Site, OidcProvider], sso_page: Page
) -> None:
    """dana signs in through the provider (an admin of acme by her group) and finds that
    sign-in on acme's audit log page, reached from the header."""
    site, _ = sso
    page = sso_page
    before = _sign_ins(site, "dana@acme.example")
    _sign_in_at_provider(page, site, "dana@acme.example")
    _consent(page)
    expect(page.locator(".account")).to_contain_text("dana@acme.example")

    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit log")
    page.get_by_label("Action", exact=True).select_option("auth.sign_in")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.data tbody tr").filter(has_text="dana@acme.example")
    expect(rows).to_have_count(before + 1)
    newest = rows.first
    expect(newest).to_contain_text("auth.sign_in")
    expect(newest).to_contain_text("127.0.0.1")
    expect(newest.locator("td").nth(4)).to_contain_text("user dana@acme.example")


def test_a_state_this_browser_did_not_start_is_refused(
    browser: Browser, sso: tuple[Site, OidcProvider], sso_page: Page
) -> None:
    """Someone's own provider answer (code and state) opened in another person's browser,
    which started a sign-in of its own: the state is not the one it started, so it is refused
    and nobody is signed in there."""
    site, _ = sso
    attacker = browser.new_context(ignore_https_errors=True)
    try:
        their_page = attacker.new_page()
        answers: list[str] = []
        their_page.on(
            "request",
            lambda request: (
                answers.append(request.url) if "/sso/callback/" in request.url else None
            ),
        )
        _sign_in_at_provider(their_page, site, "erin@acme.example")
        _consent(their_page)
        expect(their_page.locator(".account")).to_contain_text("erin@acme.example")
    finally:
        attacker.close()
    (answer,) = answers
    assert "code" in parse_qs(urlsplit(answer).query)

    page = sso_page
    page.goto(f"{site.url}/login/")
    page.get_by_role("link", name="Sign in with SSO").click()  # this browser's own state
    expect(page.locator("input[name=login]")).to_be_visible()
    response = page.goto(answer)
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("This sign-in could not be verified")
    page.goto(f"{site.url}/projects/")
    expect(page).to_have_url(f"{site.url}/login/?next=/projects/")

    # A state that was never issued is refused the same way.
    parts = urlsplit(answer)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["state"] = "not-a-state-anyone-started"
    response = page.goto(urlunsplit(parts._replace(query=urlencode(query))))
    assert response is not None and response.status == 400


@pytest.mark.parametrize(
    ("login", "refusal"),
    [
        ("oscar@elsewhere.example", "not open to elsewhere.example accounts"),
        ("mallory@acme.example", "has not verified your email address"),
    ],
)
def test_people_the_rules_do_not_admit_are_refused(
    sso: tuple[Site, OidcProvider], sso_page: Page, login: str, refusal: str
) -> None:
    site, _ = sso
    _sign_in_at_provider(sso_page, site, login)
    _consent(sso_page)
    expect(sso_page.get_by_role("heading")).to_have_text("Single sign-on did not sign you in")
    expect(sso_page.get_by_role("alert")).to_contain_text(refusal)
    assert not _account_exists(site, login)


def test_an_expired_id_token_is_refused(sso: tuple[Site, OidcProvider], sso_page: Page) -> None:
    site, provider = sso
    provider.shift_clock(2 * 3600)  # the provider's token endpoint issues tokens 2 h old
    try:
        _sign_in_at_provider(sso_page, site, "frank@acme.example")
        _consent(sso_page)
        expect(sso_page.get_by_role("alert")).to_contain_text("answer has expired")
    finally:
        provider.shift_clock(0)
    assert not _account_exists(site, "frank@acme.example")


def test_the_providers_refusal_is_shown(sso: tuple[Site, OidcProvider], sso_page: Page) -> None:
    site, _ = sso
    sso_page.goto(f"{site.url}/login/")
    sso_page.get_by_role("link", name="Sign in with SSO").click()
    sso_page.get_by_role("link", name="Cancel").click()  # abort at the provider
    expect(sso_page.get_by_role("alert")).to_contain_text(
        "Your identity provider refused the sign-in."
    )
    expect(sso_page.get_by_role("alert")).to_contain_text("The provider said:")


def test_password_login_turned_off_for_an_organization(
    sso: tuple[Site, OidcProvider], sso_page: Page
) -> None:
    site, _ = sso
    page = sso_page
    scanpulse(site.env, "org", "password-login", "globex", "off")
    try:
        page.goto(f"{site.url}/login/")
        page.get_by_label("Email").fill(site.seed.bob.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "Your organization signs in with single sign-on"
        )
        # A wrong password learns nothing about the organization.
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email")
        # Members of other organizations still sign in with their passwords.
        page.get_by_label("Email").fill(site.seed.alice.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".account")).to_contain_text(site.seed.alice.email)
    finally:
        scanpulse(site.env, "org", "password-login", "globex", "on")


def test_an_organizations_own_provider_brings_its_people_into_that_organization_only(
    browser: Browser, sso: tuple[Site, OidcProvider], tmp_path: Path
) -> None:
    site, provider = sso
    own = OidcProvider(tmp_path, certificate=(provider.cert, provider.key))
    own.start(redirect_uri=f"{site.url}/sso/callback/", post_logout_uri=f"{site.url}/login/")
    try:
        said = scanpulse(
            site.env,
            *("org", "sso", "globex", "--issuer", own.issuer, "--client-id", CLIENT_ID),
            "--client-secret-stdin",
            stdin=CLIENT_SECRET + "\n",
        )
        link = said.rpartition(" at ")[2]
        assert link.startswith("/sso/login/?organization=")
        with sqlite3.connect(site.data_dir / "db.sqlite3") as db:
            (stored,) = db.execute("SELECT client_secret FROM tenancy_organizationsso").fetchone()
        assert CLIENT_SECRET not in stored  # sealed at rest

        # The deployment's rules do not admit elsewhere.example; globex's own provider does,
        # into globex alone.
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.goto(site.url + link)
        page.locator("input[name=login]").fill("oscar@elsewhere.example")
        page.locator("input[name=password]").fill("anything")
        page.locator("button[type=submit]").click()
        _consent(page)
        expect(page.locator(".account")).to_contain_text("oscar@elsewhere.example")
        assert _memberships(site, "oscar@elsewhere.example") == {"globex": "member"}
        context.close()

        # carol belongs to acme too: globex's provider cannot sign her account in.
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.goto(site.url + link)
        page.locator("input[name=login]").fill("carol@acme.example")
        page.locator("input[name=password]").fill("anything")
        page.locator("button[type=submit]").click()
        _consent(page)
        expect(page.get_by_role("alert")).to_contain_text("belongs to other organizations too")
        page.goto(f"{site.url}/projects/")
        expect(page).to_have_url(f"{site.url}/login/?next=/projects/")
        context.close()
    finally:
        own.stop()
        scanpulse(site.env, "org", "sso", "globex", "--remove")
