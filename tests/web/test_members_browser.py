"""Invitations, password resets, scoped tokens and the audit log in a real browser, with the
mails going through a real SMTP server (aiosmtpd on a free port of 127.0.0.1) whose links the
browser follows."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page, expect

from tests.support.services import free_port
from tests.web.harness import PASSWORD, Seed, Site
from tests.web.test_browser import log_in


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 10) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if message["To"] == to:
                    self.messages.remove(message)
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} within {timeout} s")


def link_in(message: Message, site: Site) -> str:
    body = message.get_payload(decode=True).decode()
    match = re.search(re.escape(site.url) + r"/\S+", body)
    assert match, body
    return match.group(0)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mail_site(
    seeded: Seed, tmp_path_factory: pytest.TempPathFactory, mailbox: tuple[Mailbox, int]
) -> Iterator[Site]:
    settings = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mailbox[1]),
        "DEFAULT_FROM_EMAIL": "scanpulse <scanpulse@acme.example>",
    }
    site = Site(seeded, tmp_path_factory.mktemp("mail"), settings).start()
    try:
        yield site
    finally:
        site.stop()


def test_an_invited_colleague_joins_creates_a_scan_token_and_the_audit_log_shows_it(
    page: Page, mail_site: Site, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    log_in(page, mail_site, mail_site.seed.alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings of acme")).to_be_visible()
    page.get_by_label("Email").fill("dana@example.com")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to dana@example.com.")).to_be_visible()
    expect(page.get_by_role("cell", name="dana@example.com", exact=True)).to_be_visible()

    mail = box.wait_for("dana@example.com")
    assert mail["From"] == "scanpulse <scanpulse@acme.example>"
    invitation = link_in(mail, mail_site)
    page.context.clear_cookies()
    page.goto(invitation)
    expect(page.get_by_role("heading", name="Join acme")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("dana-chooses-a-password")
    page.get_by_label("Password again").fill("dana-chooses-a-password")
    page.get_by_role("button", name="Create the account and join").click()
    expect(page.get_by_role("heading", name="Settings of acme")).to_be_visible()
    expect(page.get_by_text("Signed in as dana@example.com")).to_be_visible()
    expect(page.get_by_text("You are viewer of acme.")).to_be_visible()
    # The link worked once.
    page.goto(invitation)
    expect(page.get_by_role("heading", name="This invitation does not work")).to_be_visible()

    # A read token, shown once; it reads and writes nothing.
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("dashboard")
    page.get_by_label("Scope").select_option("read")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("spt_")
    expect(page.get_by_role("cell", name="dashboard", exact=True)).to_be_visible()
    with httpx.Client(base_url=mail_site.url, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get("/api/projects/").status_code == 200
        refused = api.post("/api/projects/", json={"name": "x", "repo_url": "/nowhere"})
        assert refused.status_code == 403
    page.goto(mail_site.url + "/account/tokens")
    expect(page.locator("#new-token")).to_have_count(0)  # not shown again
    expect(page.get_by_role("cell", name="127.0.0.1", exact=True)).to_be_visible()  # last used from

    # The owner sees it all in the audit log.
    page.context.clear_cookies()
    log_in(page, mail_site, mail_site.seed.alice)
    page.goto(f"{mail_site.url}/organizations/{mail_site.seed.alice.organization_id}/settings")
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("table.audit-log tbody tr")
    for action, target in [
        ("member.invite", "dana@example.com"),
        ("member.join", "dana@example.com"),
        ("token.create", "dashboard"),
        ("auth.sign_in", "alice@acme.example"),
    ]:
        expect(rows.filter(has_text=action).filter(has_text=target).first).to_be_visible()
    page.get_by_label("Action").select_option("token.create")
    page.get_by_role("button", name="Filter").click()
    expect(rows.filter(has_text="member.invite")).to_have_count(0)
    expect(rows.filter(has_text="dashboard")).to_have_count(1)


def test_a_forgotten_password_is_reset_through_the_mailed_link_once(
    page: Page, mail_site: Site, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    bob = mail_site.seed.bob
    page.goto(mail_site.url + "/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_role("button", name="Send the link").click()
    unknown = page.get_by_role("main").inner_text()
    page.goto(mail_site.url + "/password-reset/")
    page.get_by_label("Email").fill(bob.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    assert page.get_by_role("main").inner_text() == unknown  # the same answer for both

    reset = link_in(box.wait_for(bob.email), mail_site)
    assert not any(message["To"] == "nobody@example.com" for message in box.messages)
    page.goto(reset)
    page.get_by_label("New password", exact=True).fill("bob-has-a-new-password")
    page.get_by_label("New password confirmation").fill("bob-has-a-new-password")
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()

    page.goto(reset)  # single use
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    page.goto(mail_site.url + "/login/")
    page.get_by_label("Email").fill(bob.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email")
    page.get_by_label("Password").fill("bob-has-a-new-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Active scans")).to_be_visible()
    page.goto(
        f"{mail_site.url}/organizations/{bob.organization_id}/audit?action=auth.password_reset"
    )
    expect(page.locator("table.audit-log tbody tr").filter(has_text=bob.email)).to_have_count(1)
