"""The polling routes as real server processes answer them, at the ASGI edge: what an unchanged
scan costs (no SQL, one Redis round trip), what a change, a revocation, a removed member, a
session and another organization's user see, and that the answers are the API view's own."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis as redis_py
from django.contrib.sessions.models import Session
from django.db import close_old_connections, connection
from django.utils import timezone

from scanpulse.scans.log import append_event
from scanpulse.scans.models import Scan
from scanpulse.tenancy.models import ApiToken, Membership
from scanpulse.tenancy.services import token_revoke
from tests.events.test_stream_access import sign_in, usable_password

pytestmark = pytest.mark.services

COMPARED_HEADERS = ("content-type", "etag", "cache-control", "vary", "allow", "retry-after")


def metric(server, name: str, labels: str = "") -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", re.MULTILINE)
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


def costs(server) -> tuple[float, float, float, float]:
    """SQL from the edge's database pool, polls answered from memory, by Django, Redis."""
    return (
        metric(server, "scanpulse_stream_db_queries_total", '{purpose="request"}'),
        metric(server, "scanpulse_poll_answers_total", '{source="memory"}'),
        metric(server, "scanpulse_poll_answers_total", '{source="django"}'),
        metric(server, "scanpulse_poll_redis_round_trips_total"),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def until(check, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@contextmanager
def redis_commands(url: str) -> Iterator[list[dict]]:
    """Every command the Redis server runs meanwhile (MONITOR), scripts' own included."""
    seen: list[dict] = []
    client = redis_py.Redis.from_url(url)
    monitor = client.monitor()
    monitor.connection.send_command("MONITOR")
    monitor.connection.read_response()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(monitor.next_command())
            except Exception:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield seen
    finally:
        time.sleep(0.3)
        stop.set()
        monitor.connection.disconnect()
        reader.join(2)
        client.close()


def client_round_trips(commands: list[dict]) -> list[str]:
    """Commands sent by clients (not run by a script), the event bus's own left out."""
    return [
        command["command"].split()[0].upper()
        for command in commands
        if command.get("client_type") != "lua"
        and not command["command"].upper().startswith(("XREAD", "XADD", "PING", "PUBLISH"))
        and "scanpulse:stream" not in command["command"]
        and "slot" not in command["command"].lower()
    ]


def test_an_unchanged_scan_is_a_304_without_sql_and_one_redis_round_trip(
    pair, tenant, scan, redis_bus
) -> None:
    server = pair[0]
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=server.url, headers=bearer(tenant.token), timeout=10) as client:
        first = client.get(path)
        assert first.status_code == 200 and first.headers["etag"]
        client.get(path)  # the principal and the scan are in memory now
        queries, memory, django, _ = costs(server)
        with redis_commands(redis_bus.url) as commands:
            answers = [
                client.get(path, headers={"If-None-Match": first.headers["etag"]})
                for _ in range(20)
            ]
        assert [answer.status_code for answer in answers] == [304] * 20
        assert {answer.headers["etag"] for answer in answers} == {first.headers["etag"]}
        assert all(answer.content == b"" for answer in answers)
        after = costs(server)
    assert after[0] == queries, "an unchanged scan's poll sent SQL"
    assert after[1] - memory == 20 and after[2] == django
    sent = client_round_trips(commands)
    assert sent == ["EVALSHA"] * 20, sent


def test_events_caught_up_are_answered_without_sql(pair, tenant, scan) -> None:
    server = pair[1]
    append_event(scan_id=scan.id, kind="log", data={"message": "one"})
    path = f"/api/scans/{scan.id}/events"
    with httpx.Client(base_url=server.url, headers=bearer(tenant.token), timeout=10) as client:
        page = client.get(path, params={"after": 0}).json()
        assert [event["seq"] for event in page["events"]] == [1]
        client.get(path, params={"after": 1})
        queries, memory, _, redis_before = costs(server)
        pages = [client.get(path, params={"after": 1}).json() for _ in range(10)]
        after = costs(server)
    assert (
        pages
        == [
            {
                "events": [],
                "last_event_id": 1,
                "status": "running",
                "terminal": False,
                "reset": False,
                "snapshot": None,
            }
        ]
        * 10
    )
    assert after[0] == queries and after[1] - memory == 10
    assert after[3] - redis_before == 10


def test_a_changed_scan_gets_200_with_a_new_etag(pair, tenant, scan) -> None:
    server = pair[0]
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=server.url, headers=bearer(tenant.token), timeout=10) as client:
        first = client.get(path)
        etag = first.headers["etag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        append_event(
            scan_id=scan.id, kind="progress", data={"progress": 40}, snapshot={"progress": 40}
        )
        changed = until(
            lambda: (
                (r := client.get(path, headers={"If-None-Match": etag})).status_code == 200 and r
            )
        )
        assert changed, "the change never reached the poller"
        assert changed.headers["etag"] != etag
        body = changed.json()
        assert (body["progress"], body["status"], body["last_event_id"]) == (40, "running", 1)
        again = client.get(path, headers={"If-None-Match": changed.headers["etag"]})
        assert again.status_code == 304


def test_the_answers_are_the_api_views_own(pair, tenant, scan) -> None:
    server = pair[0]
    append_event(scan_id=scan.id, kind="log", data={"message": "one"})
    append_event(scan_id=scan.id, kind="log", data={"message": "two"})
    paths = [
        (f"/api/scans/{scan.id}/status", {}),
        (f"/api/scans/{scan.id}/events?after=0&limit=1", {}),
        (f"/api/scans/{scan.id}/events?after=2", {}),
        (f"/api/scans/{scan.id}/events?after=9", {}),
    ]
    with httpx.Client(base_url=server.url, headers=bearer(tenant.token), timeout=10) as client:
        for path, headers in paths:
            for _ in range(2):  # from the database, then from memory
                edge = client.get(path, headers=headers)
                view = tenant.client.get(path, **{f"HTTP_{k}": v for k, v in headers.items()})
                assert edge.status_code == view.status_code, path
                assert edge.json() == view.json(), path
                for name in COMPARED_HEADERS:
                    assert edge.headers.get(name) == view.headers.get(name), (path, name)
        etag = client.get(paths[0][0]).headers["etag"]
        edge = client.get(paths[0][0], headers={"If-None-Match": etag})
        view = tenant.client.get(paths[0][0], HTTP_IF_NONE_MATCH=etag)
        assert (edge.status_code, edge.content) == (view.status_code, view.content) == (304, b"")
        for name in COMPARED_HEADERS:
            assert edge.headers.get(name) == view.headers.get(name), name


def test_another_organizations_user_gets_the_same_404(pair, tenant, other_tenant, scan) -> None:
    path = f"/api/scans/{scan.id}/status"
    view = other_tenant.client.get(path)
    assert view.status_code == 404
    with httpx.Client(base_url=pair[0].url, timeout=10) as client:
        # The scan is in the process's memory first: its owner polled it.
        assert client.get(path, headers=bearer(tenant.token)).status_code == 200
        for route in ("status", "events?after=0"):
            edge = client.get(f"/api/scans/{scan.id}/{route}", headers=bearer(other_tenant.token))
            assert edge.status_code == 404 and edge.json() == view.json()
    with httpx.Client(base_url=pair[1].url, timeout=10) as client:  # a process that never saw it
        edge = client.get(path, headers=bearer(other_tenant.token))
        assert edge.status_code == 404 and edge.json() == view.json()


def test_a_revoked_token_is_refused_at_once(pair, tenant, scan) -> None:
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=pair[0].url, headers=bearer(tenant.token), timeout=10) as client:
        assert client.get(path).status_code == 200
        assert client.get(path).status_code == 200  # from memory
        token_revoke(api_token=tenant.api_token)
        close_old_connections()
        refused = until(lambda: (r := client.get(path)).status_code == 401 and r, seconds=1.0)
        assert refused, "the revoked token was still served a second later"
        assert refused.json()["error"]["code"] == "not_authenticated"
        assert refused.headers["www-authenticate"] == 'Bearer realm="scanpulse"'


def test_a_session_is_served_and_loses_access_with_its_membership(
    pair, tenant, scan, tmp_path
) -> None:
    password = usable_password(tenant.user)
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=pair[0].url, timeout=10) as browser:
        sign_in(browser, "/login/", tenant.user.username, password)
        first = browser.get(path)
        assert first.status_code == 200 and first.json()["scan"] == str(scan.id)
        queries = costs(pair[0])[0]
        for _ in range(5):
            unchanged = browser.get(path, headers={"If-None-Match": first.headers["etag"]})
            assert unchanged.status_code == 304
        assert costs(pair[0])[0] == queries
        Membership.objects.filter(user=tenant.user, organization=tenant.org).delete()
        close_old_connections()
        removed = until(lambda: (r := browser.get(path)).status_code == 404 and r, seconds=1.0)
        assert removed, "a removed member was still served a second later"
        assert removed.json()["error"]["code"] == "not_found"


def test_a_scan_deleted_is_not_found_at_once(pair, tenant, scan) -> None:
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=pair[0].url, headers=bearer(tenant.token), timeout=10) as client:
        assert client.get(path).status_code == 200
        Scan.objects.filter(pk=scan.pk).first().delete()
        close_old_connections()
        assert until(lambda: client.get(path).status_code == 404, seconds=1.0)


def test_polls_share_the_api_rate_limit(servers, redis_bus, tenant, scan) -> None:
    server = servers(
        REDIS_URL=redis_bus.url,
        SCANPULSE_THROTTLE_TOKEN_RATE="3/minute",
        SCANPULSE_THROTTLE_IP_RATE="",
    )
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=server.url, headers=bearer(tenant.token), timeout=10) as client:
        statuses = [client.get(path).status_code for _ in range(3)]
        refused = client.get(path)
        # Django's path counts the same window: the next API request is refused as well.
        other = client.get("/api/scans/")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"
    assert int(refused.headers["retry-after"]) >= 1
    assert other.status_code == 429


def test_polls_at_once_are_each_counted_and_the_limit_holds(
    servers, redis_bus, tenant, scan
) -> None:
    # given: 200 polls of one token sent at once, with room for 120 of them
    server = servers(
        REDIS_URL=redis_bus.url,
        SCANPULSE_THROTTLE_TOKEN_RATE="120/minute",
        SCANPULSE_THROTTLE_IP_RATE="",
    )
    path = f"/api/scans/{scan.id}/status"

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(
            base_url=server.url, headers=bearer(tenant.token), timeout=30, limits=limits
        ) as client:
            answers = await asyncio.gather(*(client.get(path) for _ in range(200)))
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(burst())
    # then: exactly the room was answered and the rest refused: no poll was let through by a
    # limit that gave up waiting for Redis
    assert sorted(set(statuses)) == [200, 429]
    assert statuses.count(200) == 120 and statuses.count(429) == 80
    assert "rate limits not enforced" not in server.log_path.read_text()


def test_guessed_tokens_block_the_address_before_any_lookup(servers, redis_bus, scan) -> None:
    server = servers(
        REDIS_URL=redis_bus.url,
        SCANPULSE_THROTTLE_AUTH_FAILURE_RATE="3/minute",
    )
    path = f"/api/scans/{scan.id}/status"
    with httpx.Client(base_url=server.url, timeout=10) as client:
        guesses = [client.get(path, headers=bearer(f"sp_guess{index:040d}")) for index in range(3)]
        blocked = client.get(path, headers=bearer("sp_another" + "0" * 40))
    assert [guess.status_code for guess in guesses] == [401] * 3
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_failures"


def _check_counts(server) -> tuple[float, float]:
    return (
        metric(server, "scanpulse_access_checks_total", '{outcome="read"}'),
        metric(server, "scanpulse_access_checks_total", '{outcome="unchanged"}'),
    )


@pytest.mark.parametrize(
    ("change", "then"),
    [
        ("token revoked", 401),
        ("user deactivated", 401),
        ("password changed", 401),
        ("session deleted", 401),
        ("membership deleted", 404),
    ],
)
def test_access_changed_in_sql_is_refused_to_pollers_within_5_s(
    pair, tenant, scan, change, then
) -> None:
    """No broadcast: each process sees the change in the log of access changes, reads its
    pollers' credentials again and refuses them - while an unchanged log costs no re-read."""
    password = usable_password(tenant.user)
    path = f"/api/scans/{scan.id}/status"
    User = type(tenant.user)
    with (
        httpx.Client(base_url=pair[0].url, timeout=10) as browser,
        httpx.Client(base_url=pair[1].url, headers=bearer(tenant.token), timeout=10) as client,
    ):
        sign_in(browser, "/login/", tenant.user.username, password)
        pollers = (browser, client)
        assert [poller.get(path).status_code for poller in pollers] == [200, 200]
        # Quiet: the processes keep their pollers' principals without reading them again.
        time.sleep(2.5)
        before = [_check_counts(server) for server in pair]
        time.sleep(3)
        for server, (read, unchanged) in zip(pair, before, strict=True):
            assert _check_counts(server)[0] == read
            assert _check_counts(server)[1] >= unchanged + 1
        with connection.cursor() as cursor:
            if change == "token revoked":
                cursor.execute(
                    f"UPDATE {ApiToken._meta.db_table} SET revoked_at = %s WHERE digest = %s",  # noqa: S608
                    [timezone.now(), tenant.api_token.digest],
                )
            elif change == "user deactivated":
                cursor.execute(
                    f"UPDATE {User._meta.db_table} SET is_active = %s WHERE id = %s",  # noqa: S608
                    [False, tenant.user.pk],
                )
            elif change == "password changed":
                cursor.execute(
                    f"UPDATE {User._meta.db_table} SET password = %s WHERE id = %s",  # noqa: S608
                    ["pbkdf2_sha256$1$changed$changed", tenant.user.pk],
                )
            elif change == "session deleted":
                cursor.execute(f"DELETE FROM {Session._meta.db_table}")  # noqa: S608
            else:
                cursor.execute(
                    f"DELETE FROM {Membership._meta.db_table} WHERE user_id = %s",  # noqa: S608
                    [tenant.user.pk],
                )
        close_old_connections()
        refused = [
            poller
            for poller in pollers
            if until(lambda poller=poller: poller.get(path).status_code == then, seconds=5.0)
        ]
        affected = {
            "token revoked": [client],
            "password changed": [browser],
            "session deleted": [browser],
        }.get(change, list(pollers))
        assert refused == affected
        for server, (read, _) in zip(pair, before, strict=True):
            assert _check_counts(server)[0] > read  # the change was read
