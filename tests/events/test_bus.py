"""One contract, every event bus: the in-memory bus and the Redis bus (a real redis-server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from scanpulse.events.bus import EventBus
from scanpulse.events.memory import MemoryEventBus
from scanpulse.events.redis import RedisEventBus
from tests.support.services import RedisServer, redis_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest, redis: RedisServer) -> AsyncIterator[EventBus]:
    backend: EventBus = MemoryEventBus() if request.param == "memory" else RedisEventBus(redis.url)
    yield backend
    backend.close()


class Listener:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.messages: list[dict] = []
        self.reconnects = 0
        self.arrived = asyncio.Event()
        self.announced = asyncio.Event()

    def on_message(self, message: dict) -> None:
        self.messages.append(message)
        self.arrived.set()

    def on_reconnect(self) -> None:
        self.reconnects += 1
        self.announced.set()

    async def __aenter__(self) -> Listener:
        self.task = asyncio.create_task(self.bus.listen(self.on_message, self.on_reconnect))
        await asyncio.sleep(0.2)  # let the subscription be established
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def wait_for(self, count: int, seconds: float = 10) -> list[dict]:
        async with asyncio.timeout(seconds):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages


async def test_messages_arrive_in_publish_order(bus: EventBus) -> None:
    async with Listener(bus) as listener:
        for number in range(1, 201):
            bus.publish({"type": "event", "n": number})
        received = await listener.wait_for(200)
    assert [message["n"] for message in received] == list(range(1, 201))


async def test_every_listener_gets_every_message(bus: EventBus) -> None:
    async with Listener(bus) as first, Listener(bus) as second:
        bus.publish({"type": "control", "n": 1})
        assert (await first.wait_for(1))[0]["n"] == 1
        assert (await second.wait_for(1))[0]["n"] == 1


async def test_the_subscription_announces_itself_once_in_place(bus: EventBus) -> None:
    # Streams that opened before the subscription existed read the log when it announces
    # itself; from that moment on nothing published may be missed.
    listener = Listener(bus)
    task = asyncio.create_task(bus.listen(listener.on_message, listener.on_reconnect))
    try:
        async with asyncio.timeout(10):
            await listener.announced.wait()
        bus.publish({"type": "x", "n": 1})
        assert [message["n"] for message in await listener.wait_for(1)] == [1]
        assert listener.reconnects == 1, "no break, so no further announcement"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_publishing_from_other_threads(bus: EventBus) -> None:
    async with Listener(bus) as listener:
        threads = [
            threading.Thread(
                target=lambda t=t: [bus.publish({"type": "x", "t": t, "n": n}) for n in range(50)]
            )
            for t in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = await listener.wait_for(200)
    for t in range(4):
        assert [m["n"] for m in received if m["t"] == t] == list(range(50))


async def test_redis_restart_delays_messages_but_loses_none(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server:
        bus = RedisEventBus(server.url)
        try:
            async with Listener(bus) as listener:
                bus.publish({"type": "x", "n": 1})
                await listener.wait_for(1)
                server.stop()
                # Published while Redis is down: kept, in order, until it is back.
                for number in range(2, 6):
                    await asyncio.to_thread(bus.publish, {"type": "x", "n": number})
                assert bus.pending() >= 1
                await asyncio.sleep(0.5)
                server.start()
                received = await listener.wait_for(5, seconds=20)
                assert listener.reconnects >= 2, "the subscriber re-subscribed by itself"
        finally:
            bus.close()
    assert [message["n"] for message in received] == [1, 2, 3, 4, 5]
