"""The Credentials & access pages in a real browser, under the site's Content-Security-Policy:
an owner generates a deploy key and sees only its public half and fingerprint, adds an
organization token and chooses it; another organization's owner gets 404."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.harness import Site, files
from tests.web.test_browser import log_in


def test_an_owner_generates_a_deploy_key_others_see_its_fingerprint(
    page: Page, paced_site: Site
) -> None:
    project = paced_site.project("private-app", files(1))
    credentials_page = f"{paced_site.url}/projects/{project['id']}/credentials"

    log_in(page, paced_site, paced_site.seed.alice)
    page.goto(f"{paced_site.url}/projects/{project['id']}/")
    page.get_by_role("link", name="Credentials & access").click()
    expect(page.get_by_role("heading", name="Credentials & access")).to_be_visible()
    expect(page.get_by_text("None: the repository is fetched without credentials")).to_be_visible()
    page.get_by_role("button", name="Save credential").click()

    public_key = page.locator("dt:text-is('Public key') + dd code")
    expect(public_key).to_have_text(
        re.compile(r"^ssh-ed25519 [A-Za-z0-9+/]+ scanpulse-private-app$")
    )
    fingerprint = page.locator("dt:text-is('Fingerprint') + dd code")
    expect(fingerprint).to_have_text(re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$"))
    assert "PRIVATE KEY" not in page.content()
    shown = fingerprint.inner_text()

    # an organization credential, added on its own page, is shown by its fingerprint only
    page.goto(f"{paced_site.url}/projects/")
    page.get_by_role("link", name="Credentials of acme").click()
    page.get_by_label("Name", exact=True).fill("ci-bot")
    page.get_by_label("HTTPS token (for an https:// URL)").check()
    page.get_by_label("Username (HTTPS token)").fill("x-access-token")
    page.get_by_label("Token (HTTPS token)").fill("ghp_browserTypedToken0123456789")
    page.get_by_role("button", name="Save credential").click()
    expect(page.get_by_role("heading", name="ci-bot")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^hmac:[0-9a-f]{16}$"))).to_be_visible()
    assert "ghp_browserTypedToken0123456789" not in page.content()
    page.goto(credentials_page)
    choice = page.get_by_role("option", name=re.compile("^ci-bot")).inner_text()
    page.get_by_role("combobox", name="Credential").select_option(label=choice)
    page.get_by_role("button", name="Use it").click()
    expect(page.get_by_text("The organization's credential ci-bot")).to_be_visible()
    expect(page.locator("dt:text-is('Fingerprint') + dd code")).not_to_have_text(shown)

    page.context.clear_cookies()
    log_in(page, paced_site, paced_site.seed.bob)  # globex
    response = page.goto(credentials_page)
    assert response is not None and response.status == 404
    expect(page.get_by_text("private-app")).to_have_count(0)
