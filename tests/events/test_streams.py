"""The SSE endpoints of two real server processes sharing a real Redis and the test database.

This test process plays the worker: it appends events to the log, which publishes them on
the bus after each commit, exactly as a scan does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from django.db import close_old_connections
from django.utils import timezone

from scanpulse.scans.log import append_event
from scanpulse.scans.models import Scan
from scanpulse.scans.services import scan_finish
from scanpulse.tenancy.models import Organization
from tests.support.sse import StreamReader

pytestmark = pytest.mark.services

REDIS_SERVER_ENV = {"SCANPULSE_STREAM_LEASE_SECONDS": "2"}


def log(scan: Scan, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        append_event(
            scan_id=scan.id, kind="log", data={"level": "info", "message": f"line {index}"}
        )


@contextmanager
def stream(
    server, path: str, token: str, last_event_id: int | None = None, timeout: float = 15
) -> Iterator[StreamReader]:
    headers = {"Authorization": f"Bearer {token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    with (
        httpx.Client(timeout=httpx.Timeout(timeout, connect=5)) as client,
        client.stream("GET", server.url + path, headers=headers) as response,
    ):
        yield StreamReader(response)


def seqs(events) -> list[int]:
    return [int(event.last_event_id) for event in events]


# -- replay, live, terminal ---------------------------------------------------------------------


def test_replay_then_live_has_no_gap_and_no_duplicate(pair, tenant, scan) -> None:
    server = pair[0]
    log(scan, 50)

    def publish_while_the_client_replays() -> None:
        try:
            log(scan, 150, start=50)
            scan_finish(scan_id=scan.id, status="completed", message="done")
        finally:
            close_old_connections()

    with stream(server, f"/api/scans/{scan.id}/progress", tenant.token) as reader:
        writer = threading.Thread(target=publish_while_the_client_replays)
        writer.start()
        events = reader.read_to_end()
        writer.join()

    assert seqs(events) == list(range(1, 202))
    assert [json.loads(e.data)["data"]["message"] for e in events[:200]] == [
        f"line {i}" for i in range(200)
    ]
    assert events[-1].type == "completed", "the stream ends after the terminal event"
    assert reader.ended


def test_a_finished_scan_replays_at_once_then_answers_204(pair, tenant, scan) -> None:
    log(scan, 3)
    scan_finish(scan_id=scan.id, status="failed", message="The repository is empty.")
    for server in pair:
        with stream(server, f"/api/scans/{scan.id}/progress", tenant.token) as reader:
            events = reader.read_to_end()
        assert [e.type for e in events] == ["log", "log", "log", "failed"]
        assert json.loads(events[-1].data)["data"]["message"] == "The repository is empty."
        response = httpx.get(
            f"{server.url}/api/scans/{scan.id}/progress",
            headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": "4"},
        )
        assert response.status_code == 204


def test_resume_on_the_other_process_continues_exactly(pair, tenant, scan) -> None:
    first, second = pair
    log(scan, 10)
    with stream(first, f"/api/scans/{scan.id}/progress", tenant.token) as reader:
        before = reader.events_until(lambda e: e.last_event_id == "10")
    log(scan, 10, start=10)  # published while the client is away
    scan_finish(scan_id=scan.id, status="completed", message="done")
    with stream(second, f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=10) as reader:
        after = reader.read_to_end()
    assert seqs(before) + seqs(after) == list(range(1, 22))


def test_query_cursor_for_the_first_connection_and_header_precedence(pair, tenant, scan) -> None:
    log(scan, 5)
    scan_finish(scan_id=scan.id, status="completed", message="done")
    server = pair[0]
    with httpx.Client() as client:
        first = client.get(
            f"{server.url}/api/scans/{scan.id}/progress?last_event_id=3",
            headers={"Authorization": f"Bearer {tenant.token}"},
        )
        reconnect = client.get(
            f"{server.url}/api/scans/{scan.id}/progress?last_event_id=3",
            headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": "6"},
        )
        garbage = client.get(
            f"{server.url}/api/scans/{scan.id}/progress?last_event_id=abc",
            headers={"Authorization": f"Bearer {tenant.token}"},
        )
    assert [line for line in first.text.splitlines() if line.startswith("id:")] == [
        "id: 4",
        "id: 5",
        "id: 6",
    ]
    assert reconnect.status_code == 204
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "invalid_cursor"


def test_cursors_outside_the_log_get_reset_and_snapshot(pair, tenant, scan) -> None:
    from scanpulse.scans.log import purge_expired_events

    log(scan, 4)
    scan_finish(scan_id=scan.id, status="completed", message="done")
    Scan.objects.filter(pk=scan.pk).update(finished_at=timezone.now() - timezone.timedelta(days=3))
    purge_expired_events(retention=timezone.timedelta(hours=24))

    with stream(pair[1], f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=2) as reader:
        events = reader.read_to_end()
    assert [e.type for e in events] == ["reset", "snapshot"]
    snapshot = json.loads(events[1].data)
    assert snapshot["status"] == "completed" and snapshot["last_event_id"] == 5
    assert events[1].last_event_id == "5"
    response = httpx.get(
        f"{pair[1].url}/api/scans/{scan.id}/progress",
        headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": "5"},
    )
    assert response.status_code == 204


def test_a_cursor_from_the_future_is_reset(pair, tenant, scan) -> None:
    log(scan, 2)
    with stream(
        pair[0], f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=999
    ) as reader:
        events = reader.events_until(lambda e: e.type == "snapshot")
        log(scan, 1, start=2)
        live = reader.next_event()
    assert [e.type for e in events] == ["reset", "snapshot"]
    assert events[1].last_event_id == "2"
    assert live is not None and live.last_event_id == "3"


# Not event numbers, though str.isdigit() or int() take some: other scripts' digits, signs,
# separators, spaces, a decimal point, too big.
BAD_CURSORS = [
    "\u00b2",
    "\u0663",
    "\uff13",
    "+3",
    "-1",
    "1_0",
    "3.0",
    " 3",
    "3 ",
    "0x1",
    "",
    "4611686018427387905",
]


@pytest.mark.parametrize("where", ["header", "query"])
def test_a_cursor_is_ascii_digits_or_a_400_in_the_error_shape(pair, tenant, scan, where) -> None:
    log(scan, 2)
    with httpx.Client(base_url=pair[0].url, timeout=15) as client:
        for bad in BAD_CURSORS:
            if where == "header" and (not bad or bad != bad.strip()):
                continue  # HTTP takes spaces around a header value off, and an empty one is none
            headers = {"Authorization": f"Bearer {tenant.token}"}
            params = {}
            if where == "header":
                headers["Last-Event-ID"] = bad.encode()  # as sent: raw bytes, not re-encoded
            else:
                params["last_event_id"] = bad
            for path in (f"/api/scans/{scan.id}/progress", "/api/stream"):
                response = client.get(path, headers=headers, params=params)
                assert response.status_code == 400, (where, bad, path, response.text[:200])
                assert response.headers["content-type"] == "application/json", (where, bad)
                assert response.json()["error"]["code"] == "invalid_cursor", (where, bad)
        # A raw byte that is no UTF-8 at all, as the header arrives.
        raw = client.get(
            f"/api/scans/{scan.id}/progress",
            headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": b"\xb2"},
        )
        assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_cursor"
        # The largest event number is a cursor like any other (here: one never reached).
        with stream(
            pair[0], f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=2**62
        ) as reader:
            assert [e.type for e in reader.events_until(lambda e: e.type == "snapshot")] == [
                "reset",
                "snapshot",
            ]


def test_a_cursor_past_the_end_of_a_finished_scan_is_reset_as_polling_says(
    pair, tenant, scan
) -> None:
    log(scan, 3)
    scan_finish(scan_id=scan.id, status="completed", message="done")
    for server in pair:  # one process saw the events live, both read the log
        with stream(server, f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=9) as r:
            events = r.read_to_end()
        assert r.response.status_code == 200
        assert [e.type for e in events] == ["reset", "snapshot"]
        snapshot = json.loads(events[1].data)
        assert (snapshot["status"], snapshot["last_event_id"], events[1].last_event_id) == (
            "completed",
            4,
            "4",
        )
        # Resuming from the snapshot's number: the end, "stop reconnecting".
        again = httpx.get(
            f"{server.url}/api/scans/{scan.id}/progress",
            headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": "4"},
        )
        assert again.status_code == 204
    polled = httpx.get(
        f"{pair[0].url}/api/scans/{scan.id}/events?after=9",
        headers={"Authorization": f"Bearer {tenant.token}"},
    ).json()
    assert (polled["reset"], polled["snapshot"]["last_event_id"], polled["events"]) == (
        True,
        4,
        [],
    )


def test_an_org_cursor_ahead_of_the_head_is_reset_and_skips_nothing(pair, tenant, scan) -> None:
    log(scan, 3)
    head = Organization.objects.get(pk=tenant.org.pk).last_event_seq
    # A short read timeout: an event that never comes fails the test instead of waiting.
    with stream(pair[1], "/api/stream", tenant.token, last_event_id=head + 3, timeout=5) as reader:
        opened = reader.events_until(lambda e: e.type == "snapshot")
        log(scan, 4, start=3)
        live = [reader.next_event() for _ in range(4)]
    assert [e.type for e in opened] == ["reset", "snapshot"]
    assert opened[1].last_event_id == str(head)
    assert json.loads(opened[1].data)["org_seq"] == head
    assert seqs(live) == [head + 1, head + 2, head + 3, head + 4]
    assert [json.loads(e.data)["data"]["message"] for e in live] == [
        f"line {i}" for i in range(3, 7)
    ]


# -- the wire ---------------------------------------------------------------------------------------


def test_wire_format_at_byte_level(pair, tenant, scan) -> None:
    append_event(
        scan_id=scan.id,
        kind="log",
        data={"level": "info", "message": "evil\r\nid: 999\n\nevent: completed\x00data: x"},
    )
    scan_finish(scan_id=scan.id, status="completed", message="done")
    with stream(pair[0], f"/api/scans/{scan.id}/progress", tenant.token) as reader:
        events = reader.read_to_end()
        headers = reader.response.headers
        raw = bytes(reader.raw)
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    frames = raw.split(b"\n\n")
    assert frames[0] == b": connected"
    assert frames[1].startswith(b"retry: 2000\nevent: log\nid: 1\ndata: {")
    assert reader.parser.retry == 2000
    assert b"\r" not in raw and b"\x00" not in raw
    assert [e.type for e in events] == ["log", "completed"]
    assert json.loads(events[0].data)["data"]["message"].startswith("evil\r\nid: 999")


def test_httpx_sse_parses_the_stream(pair, tenant, scan) -> None:
    from httpx_sse import connect_sse

    log(scan, 3)
    scan_finish(scan_id=scan.id, status="completed", message="done")
    with (
        httpx.Client() as client,
        connect_sse(
            client,
            "GET",
            f"{pair[0].url}/api/scans/{scan.id}/progress",
            headers={"Authorization": f"Bearer {tenant.token}"},
        ) as source,
    ):
        events = list(source.iter_sse())
    assert [(e.event, e.id) for e in events] == [
        ("log", "1"),
        ("log", "2"),
        ("log", "3"),
        ("completed", "4"),
    ]
    assert events[0].retry == 2000
    assert json.loads(events[3].data)["kind"] == "completed"


def test_idle_streams_get_heartbeats(servers, redis_bus, tenant, scan) -> None:
    server = servers(REDIS_URL=redis_bus.url, SCANPULSE_SSE_HEARTBEAT_SECONDS="0.5")
    with stream(server, f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=0) as reader:
        started = time.monotonic()
        while len(reader.parser.comments) < 5:
            assert reader._pump()
        elapsed = time.monotonic() - started
    assert reader.parser.comments == ["connected"] + ["heartbeat"] * 4
    assert 1.5 <= elapsed < 4.0, elapsed


# -- the organization stream -------------------------------------------------------------------------


def test_org_stream_carries_every_scan_and_resumes_across_processes(pair, tenant, scan) -> None:
    other = Scan.objects.create(
        project=scan.project, organization=tenant.org, ref="dev", status="running"
    )
    with stream(pair[0], "/api/stream", tenant.token) as reader:
        snapshot = reader.next_event()
        assert snapshot is not None and snapshot.type == "snapshot"
        start = int(snapshot.last_event_id)
        for index in range(3):
            append_event(scan_id=scan.id, kind="log", data={"message": f"a{index}"})
            append_event(scan_id=other.id, kind="log", data={"message": f"b{index}"})
        first_half = [reader.next_event() for _ in range(4)]
    with stream(
        pair[1], "/api/stream", tenant.token, last_event_id=int(first_half[-1].last_event_id)
    ) as reader:
        second_half = [reader.next_event() for _ in range(2)]
    received = first_half + second_half
    assert seqs(received) == list(range(start + 1, start + 7))
    payloads = [json.loads(event.data) for event in received]
    assert [p["data"]["message"] for p in payloads] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert {p["scan"] for p in payloads} == {str(scan.id), str(other.id)}


# -- failures ----------------------------------------------------------------------------------------


def test_a_redis_restart_delays_events_but_loses_none(pair, redis_bus, tenant, scan) -> None:
    log(scan, 5)
    with stream(pair[0], f"/api/scans/{scan.id}/progress", tenant.token, timeout=30) as reader:
        assert seqs(reader.events_until(lambda e: e.last_event_id == "5")) == [1, 2, 3, 4, 5]
        redis_bus.stop()
        log(scan, 5, start=5)  # in the log; the bus holds them until Redis is back
        time.sleep(1)
        redis_bus.start()
        log(scan, 5, start=10)
        scan_finish(scan_id=scan.id, status="completed", message="done")
        rest = reader.read_to_end()
    assert seqs(rest) == list(range(6, 17))


def test_stream_limit_per_organization_and_slots_freed_after_a_crash(
    servers, redis_bus, tenant, scan
) -> None:
    env = {"REDIS_URL": redis_bus.url, "SCANPULSE_STREAMS_PER_ORG": "2", **REDIS_SERVER_ENV}
    first, second = servers(**env), servers(**env)
    path = f"/api/scans/{scan.id}/progress"
    with (
        stream(first, path, tenant.token, last_event_id=0) as one,
        stream(second, path, tenant.token, last_event_id=0) as two,
    ):
        one._pump(), two._pump()  # both open
        refused = httpx.get(second.url + path, headers={"Authorization": f"Bearer {tenant.token}"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["code"] == "too_many_streams"
        first.kill()  # its slot is never released explicitly
    deadline = time.monotonic() + 10
    while True:
        with stream(second, path, tenant.token, last_event_id=0, timeout=2) as again:
            if again.response.status_code == 200:
                break
        assert time.monotonic() < deadline, "the dead process's slot was never freed"
        time.sleep(0.5)


def test_revoking_a_token_closes_its_open_streams(pair, tenant, scan) -> None:
    from scanpulse.tenancy.services import token_revoke

    with stream(pair[1], f"/api/scans/{scan.id}/progress", tenant.token, last_event_id=0) as reader:
        reader._pump()
        token_revoke(api_token=tenant.api_token)
        started = time.monotonic()
        assert reader.read_to_end() == []
        assert time.monotonic() - started < 5
    refused = httpx.get(
        f"{pair[1].url}/api/scans/{scan.id}/progress",
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert refused.status_code == 401


def test_other_organizations_get_404_on_both_streams(pair, tenant, other_tenant, scan) -> None:
    for path in (f"/api/scans/{scan.id}/progress", f"/api/stream?organization={tenant.org.id}"):
        response = httpx.get(
            pair[0].url + path, headers={"Authorization": f"Bearer {other_tenant.token}"}
        )
        assert response.status_code == 404
