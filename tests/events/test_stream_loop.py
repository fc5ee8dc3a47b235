"""The stream loop in one process, with the hub fed by hand: races that real servers hit only
now and then, made to happen every time."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from scanpulse.events.admission import StreamPlan
from scanpulse.events.hub import Replay, StreamHub, Watcher
from scanpulse.events.memory import MemoryEventBus
from scanpulse.events.principals import Principal
from scanpulse.events.streams import StreamApp
from scanpulse.scans.types import Event

pytestmark = pytest.mark.anyio


def event(scan: str, org: str, seq: int) -> Event:
    return Event(scan, org, seq, seq, "log", {"message": f"m{seq}"}, "2026-01-01T00:00:00+00:00")


async def test_an_event_arriving_while_the_log_is_read_is_sent_at_once(settings) -> None:
    settings.SCANPULSE_SSE_HEARTBEAT_SECONDS = 15
    hub = StreamHub(MemoryEventBus())
    app = StreamApp(hub=hub)
    scan, org = str(uuid.uuid4()), str(uuid.uuid4())
    reads = 0

    async def load(key: str, after: int) -> Replay:
        # The log is read before event 1 commits; event 1 reaches the hub while the read is
        # still under way, so the read returns nothing and only the hub has it.
        nonlocal reads
        reads += 1
        hub.feed_event(event(scan, org, 1))
        await asyncio.sleep(0)
        return Replay([])

    async def reset() -> tuple[int, bytes, bool]:
        raise AssertionError("no reset expected")

    channel = hub.channel("scan", scan)
    plan = StreamPlan(channel, org, 0, load, reset)
    watcher = Watcher("t:test")
    hub.watch(channel, watcher)
    bodies: list[bytes] = []
    sent_first = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        bodies.append(message.get("body", b""))
        if b"id: 1\n" in bodies[-1]:
            sent_first.set()

    principal = Principal(user_id=1, org_ids=frozenset({org}), auth_key="t:test")
    serving = asyncio.create_task(app._stream(plan, principal, watcher, send))
    try:
        async with asyncio.timeout(2):  # the heartbeat would wake the stream only after 15 s
            await sent_first.wait()
    finally:
        watcher.close("disconnected")
        await serving
        hub.unwatch(channel, watcher)
    assert reads == 1, "the frame came from memory, not from a second read of the log"
