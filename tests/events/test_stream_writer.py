"""The stream writer: whichever way a frame comes (offered by the hub, or read by the stream's
task), the cursor moves once the client was sent it, and the delivery is counted once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from scanpulse.events.hub import Frame, Watcher
from scanpulse.events.writer import StreamWriter

pytestmark = pytest.mark.anyio


def frame(number: int, *, terminal: bool = False) -> Frame:
    return Frame(number, f"id: {number}\ndata: x\n\n".encode(), terminal, time.time())


def counted() -> tuple[float, float]:
    deliveries = REGISTRY.get_sample_value("scanpulse_stream_deliveries_total") or 0.0
    latencies = REGISTRY.get_sample_value("scanpulse_event_latency_seconds_count") or 0.0
    return deliveries, latencies


class Client:
    """An ASGI send whose client reads at once, or not until told to."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.reading: asyncio.Event | None = None

    async def send(self, message: dict[str, Any]) -> None:
        if self.reading is not None:
            await self.reading.wait()
        self.bodies.append(message.get("body", b""))


async def test_an_offered_frame_is_written_at_once_and_counted_once() -> None:
    client = Client()
    writer = StreamWriter(client.send, Watcher("t:x"), 4, write_timeout=1)
    before = counted()
    assert writer.offer(frame(5))
    assert writer.cursor == 5
    assert client.bodies == [frame(5).data]
    assert counted() == (before[0] + 1, before[1] + 1)


async def test_the_writer_declines_what_the_task_must_handle() -> None:
    client = Client()
    writer = StreamWriter(client.send, Watcher("t:x"), 4, write_timeout=1)
    before = counted()
    assert not writer.offer(frame(6)), "a gap: the task reads what is missing"
    assert not writer.offer(frame(5, terminal=True)), "the last event ends the stream"
    assert writer.cursor == 4
    assert client.bodies == []
    assert counted() == before


async def test_a_write_that_waits_moves_the_cursor_when_it_is_done() -> None:
    client = Client()
    client.reading = asyncio.Event()
    writer = StreamWriter(client.send, Watcher("t:x"), 4, write_timeout=1)
    before = counted()
    assert not writer.offer(frame(5)), "the client is not reading: the task finishes the write"
    assert not writer.offer(frame(6)), "nothing overtakes a write under way"
    assert writer.cursor == 4
    assert counted() == before
    client.reading.set()
    await writer.finish_delivery()
    assert writer.cursor == 5
    assert client.bodies == [frame(5).data]
    assert counted() == (before[0] + 1, before[1] + 1)


async def test_frames_the_task_read_from_the_log_move_the_cursor_without_latency() -> None:
    client = Client()
    writer = StreamWriter(client.send, Watcher("t:x"), 0, write_timeout=1)
    before = counted()
    await writer.write_frames([frame(1), frame(2), frame(3)], live=False)
    assert writer.cursor == 3
    assert client.bodies == [frame(1).data + frame(2).data + frame(3).data]
    assert counted() == (before[0] + 3, before[1]), "replayed events are not live latency"
    await writer.write_frames([frame(4)], live=True)
    assert writer.cursor == 4
    assert counted() == (before[0] + 4, before[1] + 1)
