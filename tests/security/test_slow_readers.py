"""A client that opens a stream and never reads: the server drops it once a write has waited
``SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS``, counts it, and frees its slot of the organization's
stream limit. A real server (production backends: Redis bus and Redis slots) and a raw socket
with a tiny receive buffer; this test process appends large events as a worker would."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event
from scanpulse.scans.models import Scan

pytestmark = pytest.mark.services

EVENT_BYTES = 64 * 1024
EVENTS = 250  # ~16 MB: more than any socket buffer on the way holds


def metrics(server) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_reader_that_stalls_is_dropped_and_frees_its_slot(servers, redis_bus, tenant, tmp_path):
    server = servers(
        REDIS_URL=redis_bus.url,
        SCANPULSE_STREAMS_PER_ORG="1",
        SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS="1",
    )
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    scan = Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="running"
    )
    path = f"/api/scans/{scan.id}/progress"
    before = metrics(server)
    assert before["scanpulse_open_streams"] == 0

    # A client that asks for the stream and then never reads a byte.
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = server.url.removeprefix("http://").split(":")
    stalled.connect((host, int(port)))
    try:
        stalled.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {tenant.token}\r\n"
            "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n".encode()
        )
        wait_for(lambda: metrics(server)["scanpulse_open_streams"] == 1, 10, "the stream to open")

        # Its slot is the organization's only one.
        refused = httpx.get(
            server.url + path, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=10
        )
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert int(refused.headers["retry-after"]) >= 1

        # The worker logs far more than the socket buffers hold.
        line = "x" * EVENT_BYTES
        started = time.monotonic()
        for index in range(EVENTS):
            append_event(scan_id=scan.id, kind="log", data={"level": "info", "message": line})
            if index % 10 == 9 and (
                metrics(server)["scanpulse_stream_slow_readers_total"]
                > before["scanpulse_stream_slow_readers_total"]
            ):
                break

        wait_for(
            lambda: (
                metrics(server)["scanpulse_stream_slow_readers_total"]
                == before["scanpulse_stream_slow_readers_total"] + 1
            ),
            30,
            "the stalled stream to be dropped",
        )
        assert time.monotonic() - started < 30
        wait_for(lambda: metrics(server)["scanpulse_open_streams"] == 0, 10, "its slot to be freed")

        # A new stream of the organization is admitted again.
        last = Scan.objects.get(pk=scan.id).last_event_seq
        with (
            httpx.Client(timeout=httpx.Timeout(10, connect=5)) as client,
            client.stream(
                "GET",
                server.url + path,
                headers={"Authorization": f"Bearer {tenant.token}", "Last-Event-ID": str(last)},
            ) as admitted,
        ):
            assert admitted.status_code == 200
            assert admitted.headers["content-type"] == "text/event-stream"
            assert next(admitted.iter_raw()).startswith(b": connected")
    finally:
        stalled.close()
