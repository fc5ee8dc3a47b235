"""The follower's guarantee — every event once, in order — on wire conditions a healthy server
does not produce on demand: overlapping replays, gaps, purged logs, broken connections.

The server is scripted with httpx's ``MockTransport``; everything else is the real client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from scanpulse.cli.api import Api
from scanpulse.cli.follower import Follower
from scanpulse.cli.results import CliError, ScanUpdate

SCAN = "0b6f2f8e-4c0a-4a53-9a49-7c4f6f0f2b11"


def event(seq: int, kind: str = "log", **data: Any) -> dict[str, Any]:
    if kind == "log":
        data = {"level": "info", "message": f"line {seq}", **data}
    return {"scan": SCAN, "seq": seq, "kind": kind, "time": "2026-01-01T00:00:00Z", "data": data}


def frame(payload: dict[str, Any], *, name: str | None = None, id: int | None = None) -> str:
    kind = name or payload["kind"]
    number = payload.get("seq") if id is None else id
    return f"event: {kind}\nid: {number}\ndata: {json.dumps(payload)}\n\n"


def stream(*frames: str) -> httpx.Response:
    body = "retry: 10\n\n" + "".join(frames)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text=body)


def page(events: list[dict[str, Any]], *, last: int, terminal: bool = False) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "events": events,
            "last_event_id": last,
            "status": "completed" if terminal else "running",
            "terminal": terminal,
            "reset": False,
            "snapshot": None,
        },
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[ScanUpdate] = []
        self.notes: list[str] = []

    def event(self, event: ScanUpdate) -> None:
        self.events.append(event)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def close(self) -> None: ...


Handler = Callable[[httpx.Request], httpx.Response]


def follow(handler: Handler, *, after: int = 0) -> tuple[Recorder, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    api = Api("http://scanpulse.test", "spt_test", transport=httpx.MockTransport(record))
    recorder = Recorder()
    Follower(api, SCAN, recorder, after=after, sleep=lambda _seconds: None).run()
    return recorder, requests


def seqs(recorder: Recorder) -> list[int]:
    return [event.seq for event in recorder.events]


def test_overlapping_replays_and_gaps_show_each_event_once_in_order() -> None:
    # given: a stream that ends early, a resumed one that repeats and then skips events
    streams = iter(
        [
            stream(*(frame(event(n)) for n in (1, 2, 3))),
            stream(*(frame(event(n)) for n in (2, 3, 6)), frame(event(7, "completed"))),
        ]
    )

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/progress"):
            return next(streams)
        assert request.url.params["after"] == "3"
        return page([event(4), event(5), event(6)], last=7)

    # when
    recorder, requests = follow(server)

    # then
    assert seqs(recorder) == [1, 2, 3, 4, 5, 6, 7]
    resumed = [r for r in requests if r.url.path.endswith("/progress")][1]
    assert resumed.headers["Last-Event-ID"] == "3"


def test_a_purged_log_continues_from_the_snapshot() -> None:
    # given
    snapshot = {"scan": SCAN, "status": "running", "progress": 40, "step": "x", "last_event_id": 40}

    def server(request: httpx.Request) -> httpx.Response:
        return stream(
            'event: reset\ndata: {"reason": "gone"}\n\n',
            frame(snapshot, name="snapshot", id=40),
            frame(event(41)),
            frame(event(42, "completed")),
        )

    # when
    recorder, _ = follow(server, after=3)

    # then
    assert [(e.seq, e.kind) for e in recorder.events] == [
        (40, "snapshot"),
        (41, "log"),
        (42, "completed"),
    ]


def test_204_means_the_scan_is_over() -> None:
    recorder, requests = follow(lambda request: httpx.Response(204), after=9)
    assert recorder.events == []
    assert len(requests) == 1


def test_a_stream_that_keeps_failing_gives_way_to_polling() -> None:
    # given: streams that cannot connect, and polling that works
    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/progress"):
            raise httpx.ConnectError("connection reset")
        after = int(request.url.params["after"])
        if after == 0:
            return page([event(1), event(2)], last=2)
        return page([event(3, "failed", message="boom")], last=3, terminal=True)

    # when
    recorder, requests = follow(server)

    # then
    assert seqs(recorder) == [1, 2, 3]
    assert sum(r.url.path.endswith("/progress") for r in requests) == 3
    assert any("polling" in note for note in recorder.notes)


def test_a_revoked_token_stops_the_follower_with_exit_4() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": "x", "message": "Revoked."}})

    with pytest.raises(CliError) as raised:
        follow(server)
    assert raised.value.exit_code == 4
