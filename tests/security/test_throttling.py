"""Rate limits and sign-in throttling, against real server processes: what a client sees is a
429 with ``Retry-After`` and the JSON error shape (or, on the sign-in form, a page that says
what happened and when to retry)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from scanpulse.core.throttling import FailureLimiter, Rate, hit
from scanpulse.tenancy.services import token_create

pytestmark = pytest.mark.services

PASSWORD = "a-long-test-password"


def assert_429(response: httpx.Response, code: str) -> int:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60 * 60
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return retry_after


def client(server, token: str | None = None, address: str | None = None) -> httpx.Client:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if address:
        # The server trusts X-Forwarded-For from 127.0.0.1 only (SCANPULSE_FORWARDED_ALLOW_IPS):
        # this plays a proxy forwarding clients at different addresses.
        headers["X-Forwarded-For"] = address
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


# --- API rate limits -------------------------------------------------------------------------


def test_api_requests_are_limited_per_token(servers, tenant) -> None:
    server = servers(SCANPULSE_THROTTLE_TOKEN_RATE="5/minute")
    _, second_token = token_create(user=tenant.user, name="second")
    with client(server, tenant.token) as first, client(server, second_token) as second:
        assert [first.get("/api/projects/").status_code for _ in range(5)] == [200] * 5
        assert_429(first.get("/api/projects/"), "throttled")
        assert_429(first.get("/api/scans/"), "throttled")  # every endpoint, one budget
        # Another token of the same user, from the same address, has its own budget.
        assert second.get("/api/projects/").status_code == 200


def test_api_requests_are_limited_per_address(servers, tenant, other_tenant) -> None:
    server = servers(SCANPULSE_THROTTLE_IP_RATE="4/minute")
    with (
        client(server, tenant.token, address="203.0.113.7") as one,
        client(server, other_tenant.token, address="203.0.113.7") as same_address,
        client(server, tenant.token, address="198.51.100.9") as elsewhere,
        client(server, address="203.0.113.7") as anonymous,
    ):
        assert [one.get("/api/projects/").status_code for _ in range(2)] == [200, 200]
        assert anonymous.get("/api/schema/").status_code == 200  # public, still counted
        assert same_address.get("/api/scans/").status_code == 200
        assert_429(same_address.get("/api/scans/"), "throttled")
        assert_429(one.get("/api/projects/"), "throttled")
        assert_429(anonymous.get("/api/schema/"), "throttled")
        assert elsewhere.get("/api/projects/").status_code == 200


def test_a_client_cannot_pick_its_own_address(servers, tenant) -> None:
    # Without a trusted proxy, X-Forwarded-For is ignored: rotating it buys nothing.
    server = servers(SCANPULSE_THROTTLE_IP_RATE="3/minute", SCANPULSE_FORWARDED_ALLOW_IPS="")
    statuses = []
    for index in range(4):
        with client(server, tenant.token, address=f"192.0.2.{index}") as api:
            statuses.append(api.get("/api/projects/").status_code)
    assert statuses == [200, 200, 200, 429]


def test_failed_token_guesses_lock_the_address_out(servers, tenant) -> None:
    server = servers(SCANPULSE_THROTTLE_AUTH_FAILURE_RATE="3/minute")
    guesses = [f"spt_{'a' * 39}{index}" for index in range(4)]
    with client(server, address="203.0.113.50") as attacker:
        for guess in guesses[:3]:
            response = attacker.get("/api/projects/", headers={"Authorization": f"Bearer {guess}"})
            assert response.status_code == 401
        # Locked: refused before any lookup, even with a real token.
        assert_429(
            attacker.get("/api/projects/", headers={"Authorization": f"Bearer {guesses[3]}"}),
            "too_many_failures",
        )
        assert_429(
            attacker.get("/api/projects/", headers={"Authorization": f"Bearer {tenant.token}"}),
            "too_many_failures",
        )
    with client(server, tenant.token, address="198.51.100.1") as someone_else:
        assert someone_else.get("/api/projects/").status_code == 200


# --- sign-in throttle ----------------------------------------------------------------------


@pytest.fixture
def site(servers, tenant, other_tenant):
    # The server checks passwords with the production hashers (the tests' is MD5): store them
    # as PBKDF2, with few iterations to keep the test fast.
    for user in (tenant.user, other_tenant.user):
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsalt", iterations=1000)
        user.save(update_fields=["password"])
    return servers()


def sign_in(server, email: str, password: str, address: str, path: str = "/login/"):
    with httpx.Client(
        base_url=server.url, headers={"X-Forwarded-For": address}, timeout=30
    ) as browser:
        form = browser.get(path)
        assert form.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        return browser.post(
            path,
            data={"username": email, "password": password, "csrfmiddlewaretoken": token.group(1)},
        )


def test_five_failed_sign_ins_lock_the_account_for_that_address(site, tenant, other_tenant) -> None:
    email = tenant.user.email
    attempts = [sign_in(site, email, f"wrong-{index}", "203.0.113.20") for index in range(5)]
    assert [response.status_code for response in attempts[:4]] == [200] * 4
    assert "Please enter a correct" in attempts[0].text
    refused = attempts[4]
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in refused.text
    assert 14 * 60 <= int(refused.headers["retry-after"]) <= 15 * 60
    assert refused.headers["content-security-policy"].startswith("default-src 'self'")

    # The right password does not get through either, from there, while locked.
    locked = sign_in(site, email, PASSWORD, "203.0.113.20")
    assert locked.status_code == 429 and "Too many failed sign-in attempts" in locked.text
    # The admin's sign-in form shares the count.
    admin = sign_in(site, email, PASSWORD, "203.0.113.20", path="/admin/login/")
    assert admin.status_code == 429

    # The same account from another address, another account from the same one: unaffected.
    assert sign_in(site, email, PASSWORD, "198.51.100.20").status_code == 302
    assert sign_in(site, other_tenant.user.email, PASSWORD, "203.0.113.20").status_code == 302


def test_spelling_of_the_email_does_not_reset_the_count(site, tenant) -> None:
    spellings = [
        "owner@acme.example",
        "OWNER@acme.example",
        " owner@ACME.example ",
        "Owner@Acme.Example",
    ]
    statuses = [sign_in(site, email, "wrong", "203.0.113.30").status_code for email in spellings]
    assert statuses == [200, 200, 200, 200]
    assert sign_in(site, "owner@acme.EXAMPLE", "wrong", "203.0.113.30").status_code == 429


def test_a_successful_sign_in_clears_its_failures(site, tenant) -> None:
    email = tenant.user.email
    for _ in range(4):
        assert sign_in(site, email, "wrong", "203.0.113.40").status_code == 200
    assert sign_in(site, email, PASSWORD, "203.0.113.40").status_code == 302
    for _ in range(4):
        assert sign_in(site, email, "wrong", "203.0.113.40").status_code == 200


# --- the counters themselves ---------------------------------------------------------------


def test_rates_parse_every_documented_spelling() -> None:
    assert Rate.parse("600/minute") == Rate(600, 60)
    assert Rate.parse("5/15m") == Rate(5, 900)
    assert Rate.parse("1000/hour") == Rate(1000, 3600)
    assert Rate.parse("10/s") == Rate(10, 1)
    assert Rate.parse("2/day") == Rate(2, 86400)
    for bad in ["", "ten/minute", "5", "5/fortnight", "5/-1m"]:
        with pytest.raises(ValueError):
            Rate.parse(bad)


def test_fixed_windows_allow_the_rate_and_say_when_to_retry(db) -> None:
    rate = Rate(3, 60)
    start = 1_000_000 * 60.0  # the start of a window
    assert [hit("t", "k", rate, now=start + i) for i in range(3)] == [None] * 3
    assert hit("t", "k", rate, now=start + 20) == 40
    assert hit("t", "other", rate, now=start + 20) is None
    assert hit("t", "k", rate, now=start + 60) is None  # the next window


def test_failure_limiter_blocks_at_the_limit_until_the_period_ends(db) -> None:
    limiter = FailureLimiter("test", Rate(2, 900))
    assert limiter.blocked_for("a") is None
    limiter.record("a")
    assert limiter.blocked_for("a") is None
    limiter.record("a")
    assert 899 <= limiter.blocked_for("a") <= 900  # type: ignore[operator]
    assert limiter.blocked_for("b") is None
    limiter.reset("a")
    assert limiter.blocked_for("a") is None


def test_limits_hold_across_processes_and_fail_open_without_redis(servers, tenant, redis) -> None:
    env = {"REDIS_URL": redis.url, "SCANPULSE_THROTTLE_TOKEN_RATE": "4/minute"}
    first, second = servers(**env), servers(**env)
    with client(first, tenant.token) as one, client(second, tenant.token) as two:
        statuses = [api.get("/api/projects/").status_code for api in (one, two, one, two)]
        assert statuses == [200] * 4
        # The count is shared through Redis: the fifth request is refused by either process.
        assert_429(one.get("/api/projects/"), "throttled")
        assert_429(two.get("/api/projects/"), "throttled")

        # Without Redis, requests go through rather than fail.
        redis.stop()
        started = time.monotonic()
        assert one.get("/api/projects/").status_code == 200
        assert time.monotonic() - started < 5
        redis.start()  # a new, empty Redis
        deadline = time.monotonic() + 15
        while two.get("/api/projects/").status_code != 429:
            assert time.monotonic() < deadline, "limits are enforced again once Redis is back"
            time.sleep(0.5)


def test_a_mistyped_rate_stops_the_server_from_starting(settings) -> None:
    from scanpulse.core.checks import rates_are_valid

    settings.SCANPULSE_THROTTLE_RATES = {"token": "lots", "ip": "", "auth_failures": "5/15m"}
    (error,) = rates_are_valid()
    assert error.id == "scanpulse.E001" and "token" in error.msg
