"""Stream slots in a real Redis, two instances standing for two web processes."""

from __future__ import annotations

import asyncio

import pytest
import redis as redis_py

from scanpulse.events.slots import RedisStreamSlots, SlotsRebuilding

pytestmark = [pytest.mark.anyio, pytest.mark.services]

LEASE = 1.5


async def test_a_redis_never_used_grants_at_once(redis) -> None:
    slots = RedisStreamSlots(redis.url, lease_seconds=LEASE)
    try:
        assert await slots.acquire("org", "a", 1)
        assert not await slots.acquire("org", "b", 1)
    finally:
        await slots.close()


async def test_a_redis_that_lost_the_leases_counts_every_open_stream_again(redis) -> None:
    first = RedisStreamSlots(redis.url, lease_seconds=LEASE)
    second = RedisStreamSlots(redis.url, lease_seconds=LEASE)
    try:
        assert await first.acquire("org", "a", 2)
        assert await second.acquire("org", "b", 2)
        assert not await second.acquire("org", "c", 2)

        with redis_py.Redis.from_url(redis.url) as client:
            client.flushall()  # a failover to a replica that never had the leases

        with pytest.raises(SlotsRebuilding) as rebuilding:
            await second.acquire("org", "c", 2)
        assert 1 <= rebuilding.value.retry_after <= LEASE + 1
        await asyncio.sleep(LEASE / 2 + 0.2)  # both processes renewed meanwhile
        assert not await first.acquire("org", "c", 2), "the two open streams count again"
        await second.release("org", "b")
        assert await first.acquire("org", "c", 2)
    finally:
        await first.close()
        await second.close()
