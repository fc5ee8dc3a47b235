"""Two-factor for password accounts in the browser: enrolment with the key the page shows,
sign-in with a code from an authenticator (pyotp here), wrong codes refused, recovery codes
working once each."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.web.harness import PASSWORD, Seed, Site


@pytest.fixture(scope="module")
def site(seeded: Seed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = Site(seeded, tmp_path_factory.mktemp("two-factor")).start()
    try:
        yield site
    finally:
        site.stop()


def _password_step(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/login/")
    page.get_by_label("Email").fill(site.seed.alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _code_step(page: Page, code: str) -> None:
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(code)
    page.get_by_role("button", name="Verify").click()


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def _next_code(totp: pyotp.TOTP, after: str | None) -> str:
    """A current code other than ``after`` (each code is accepted once)."""
    while True:
        code = totp.now()
        if code != after:
            return code
        time.sleep(1)


def test_enrol_then_sign_in_with_a_code_and_with_recovery_codes_once(
    site: Site, page: Page
) -> None:
    _password_step(page, site)
    expect(page.locator(".account")).to_contain_text(site.seed.alice.email)
    page.get_by_role("link", name="Two-factor").click()
    expect(page.get_by_role("img", name="QR code of the two-factor key")).to_be_visible()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().strip())

    page.get_by_label("Code from the app").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")

    enrol_code = totp.now()
    page.get_by_label("Code from the app").fill(enrol_code)
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor is on.")
    codes = page.get_by_role("list", name="Recovery codes").locator("code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    # Shown once: the settings page no longer shows them, nor the key.
    page.goto(f"{site.url}/account/two-factor/")
    expect(page.get_by_text("10 recovery codes left")).to_be_visible()
    assert codes[0] not in page.content()
    expect(page.locator("#totp-secret")).to_have_count(0)
    _log_out(page)

    # The password alone signs nobody in now.
    _password_step(page, site)
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    page.goto(f"{site.url}/projects/")
    expect(page).to_have_url(f"{site.url}/login/?next=/projects/")
    _password_step(page, site)
    _code_step(page, "123 456" if totp.now() != "123456" else "654321")
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    _code_step(page, enrol_code)  # already used to enrol: not accepted again
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    _code_step(page, _next_code(totp, enrol_code))
    expect(page.locator(".account")).to_contain_text(site.seed.alice.email)
    _log_out(page)

    _password_step(page, site)
    _code_step(page, codes[0].upper())
    expect(page.locator(".messages")).to_contain_text("recovery code; 9 left")
    _log_out(page)
    _password_step(page, site)
    _code_step(page, codes[0])
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    _code_step(page, codes[1])
    expect(page.locator(".account")).to_contain_text(site.seed.alice.email)


def test_wrong_codes_are_limited_per_account(site: Site, page: Page) -> None:
    """Runs after enrolment above (same site): five wrong codes, then even a right one waits."""
    _password_step(page, site)
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    for _ in range(5):
        _code_step(page, "999999")
        expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    _code_step(page, "999999")
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong codes. Try again in 15")
