"""Who may keep streaming: real server processes, and what their viewers see when access ends.

Access can end in many ways - a token revoked with the command, in the admin or by SQL, a
member removed or given another role, a session that expires, the scan or project deleted -
and through any process. Whatever the way, every serving process closes the streams it
concerns within 5 s and refuses new ones. The stream limit holds across a Redis restart.
"""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest

from tests.events.test_streams import stream
from tests.support.sse import StreamReader

pytestmark = pytest.mark.services

PROMISE = 5.0  # seconds within which every process acts on a change of access


def opened(reader: StreamReader) -> StreamReader:
    assert reader.response.status_code == 200, reader.response.read()
    assert reader._pump()  # ": connected"
    return reader


def status_of(server, path: str, **headers: str) -> int:
    with (
        httpx.Client(timeout=httpx.Timeout(5, connect=5)) as client,
        client.stream("GET", server.url + path, headers=headers) as response,
    ):
        return response.status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def streams_of(tenant, scan) -> tuple[str, str]:
    return f"/api/scans/{scan.id}/progress", f"/api/stream?organization={tenant.org.id}"


# -- the stream limit across a Redis restart --------------------------------------------------------


def test_the_stream_limit_holds_after_a_redis_restart(servers, redis_bus, tenant, scan) -> None:
    lease = 6.0
    env = {
        "REDIS_URL": redis_bus.url,
        "SCANPULSE_STREAMS_PER_ORG": "8",
        "SCANPULSE_STREAM_LEASE_SECONDS": str(lease),
    }
    first, second = servers(**env), servers(**env)
    scan_path, _ = streams_of(tenant, scan)
    with contextlib.ExitStack() as held:
        # Readers are kept: a collected reader closes its connection.
        readers = [
            opened(held.enter_context(stream(server, scan_path, tenant.token, last_event_id=0)))
            for server in (first, second) * 4
        ]
        assert status_of(first, scan_path, **bearer(tenant.token)) == 429

        redis_bus.restart()  # an empty Redis: every lease is gone
        answers: list[int] = []
        deadline = time.monotonic() + 2 * lease
        while time.monotonic() < deadline:
            for server in (first, second):
                answers.append(status_of(server, scan_path, **bearer(tenant.token)))
            time.sleep(0.1)
        assert not any(reader.ended for reader in readers)
    assert 200 not in answers, f"a 9th stream of 8 was accepted: {answers}"
    assert set(answers) <= {429, 503}
    assert answers[-4:] == [429] * 4, "once rebuilt, the limit answers as before"
