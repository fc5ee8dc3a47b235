"""One contract, every stream-slot backend (``SCANPULSE_STREAM_SLOTS``): the in-process count
and the Redis one (a real redis-server). What only Redis does — sharing the count between
processes, leases, rebuilding a lost registry — is in ``test_slots.py``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from scanpulse.events.slots import MemoryStreamSlots, RedisStreamSlots, StreamSlots
from tests.support.services import RedisServer, redis_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[StreamSlots]:
    if request.param == "memory":
        backend: StreamSlots = MemoryStreamSlots()
    else:
        backend = RedisStreamSlots(request.getfixturevalue("redis").url, lease_seconds=5)
    yield backend
    await backend.close()


@pytest.fixture
def org() -> str:
    return str(uuid.uuid4())  # one Redis serves the whole module: each test its own count


async def test_grants_up_to_the_limit_then_refuses(slots: StreamSlots, org: str) -> None:
    assert await slots.acquire(org, "a", 2)
    assert await slots.acquire(org, "b", 2)
    assert not await slots.acquire(org, "c", 2)


async def test_a_released_slot_is_free_again(slots: StreamSlots, org: str) -> None:
    assert await slots.acquire(org, "a", 1)
    assert not await slots.acquire(org, "b", 1)
    await slots.release(org, "a")
    assert await slots.acquire(org, "b", 1)


async def test_a_refused_stream_holds_no_slot(slots: StreamSlots, org: str) -> None:
    assert await slots.acquire(org, "a", 1)
    assert not await slots.acquire(org, "b", 1)
    await slots.release(org, "a")
    assert await slots.acquire(org, "c", 1)
    assert not await slots.acquire(org, "d", 1)


async def test_organizations_are_counted_apart(slots: StreamSlots, org: str) -> None:
    other = str(uuid.uuid4())
    assert await slots.acquire(org, "a", 1)
    assert await slots.acquire(other, "b", 1)
    assert not await slots.acquire(org, "c", 1)
    assert not await slots.acquire(other, "d", 1)


async def test_each_request_brings_its_limit(slots: StreamSlots, org: str) -> None:
    assert await slots.acquire(org, "a", 1)
    assert not await slots.acquire(org, "b", 1)
    assert await slots.acquire(org, "b", 2), "a higher limit (a changed setting) has room"
    assert not await slots.acquire(org, "c", 2)


async def test_a_limit_of_zero_refuses_every_stream(slots: StreamSlots, org: str) -> None:
    assert not await slots.acquire(org, "a", 0)


async def test_releasing_what_is_not_held_changes_nothing(slots: StreamSlots, org: str) -> None:
    await slots.release(org, "never-granted")
    await slots.release(str(uuid.uuid4()), "unknown-organization")
    assert await slots.acquire(org, "a", 2)
    await slots.release(org, "a")
    await slots.release(org, "a")  # twice: frees one slot, not two
    assert await slots.acquire(org, "b", 2)
    assert await slots.acquire(org, "c", 2)
    assert not await slots.acquire(org, "d", 2)


async def test_a_crowd_arriving_at_once_gets_exactly_the_limit(
    slots: StreamSlots, org: str
) -> None:
    names = [f"s{number}" for number in range(50)]
    granted = await asyncio.gather(*(slots.acquire(org, name, 10) for name in names))
    assert sum(granted) == 10
    held = [name for name, ok in zip(names, granted, strict=True) if ok]
    await asyncio.gather(*(slots.release(org, name) for name in held))
    again = await asyncio.gather(*(slots.acquire(org, name, 10) for name in names))
    assert sum(again) == 10, "a crowd leaving at once frees every slot"


async def test_closing_with_streams_open_is_harmless(slots: StreamSlots, org: str) -> None:
    assert await slots.acquire(org, "a", 1)
    await slots.close()
    await slots.close()  # closing twice (shutdown after a failed start) is harmless
