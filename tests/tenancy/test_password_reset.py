"""Password resets: one answer for every email, rate-limited, links single use and expiring."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from scanpulse.audit.models import AuditEntry


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    cache.clear()


def ask(email: str, address: str = "192.0.2.1") -> object:
    return Client(REMOTE_ADDR=address).post("/password-reset/", {"email": email})


@pytest.mark.django_db
def test_unknown_and_known_emails_get_the_same_answer(tenant) -> None:
    unknown, known = ask("nobody@example.com"), ask(tenant.user.email.upper())
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [message.to for message in mail.outbox] == [[tenant.user.email]]
    assert "Forgot password?" in Client().get("/login/").content.decode()


@pytest.mark.django_db
def test_requests_are_limited_per_address_and_per_email(tenant, settings) -> None:
    settings.SCANPULSE_THROTTLE_RATES = {
        **settings.SCANPULSE_THROTTLE_RATES,
        "password_reset": "2/h",
    }
    assert [ask(f"x{n}@example.com").status_code for n in range(3)] == [302, 302, 429]
    assert [ask(tenant.user.email, f"192.0.2.{9 + n}").status_code for n in range(3)] == [
        302,
        302,
        429,
    ]
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_reset_link_works_once(tenant, settings) -> None:
    ask(tenant.user.email)
    link = re.search(r"http://testserver(/\S+)", mail.outbox[0].body).group(1)
    browser = Client()
    form = browser.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-long-password", "new_password2": "a-new-long-password"},
    )
    assert done.status_code == 302
    tenant.user.refresh_from_db()
    assert tenant.user.check_password("a-new-long-password")
    again = Client().get(link, follow=True)
    assert "This link does not work" in again.content.decode()
    assert (
        AuditEntry.objects.filter(action="auth.password_reset", target=tenant.user.email).count()
        == 1
    )


@pytest.mark.django_db
def test_an_expired_link_is_refused(tenant, settings) -> None:
    settings.PASSWORD_RESET_TIMEOUT = 0
    ask(tenant.user.email)
    link = re.search(r"http://testserver(/\S+)", mail.outbox[0].body).group(1)
    time.sleep(1.1)
    assert "This link does not work" in Client().get(link, follow=True).content.decode()
