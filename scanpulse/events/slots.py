"""Concurrent-stream limits per organization.

In production the count is shared by every web process through Redis. Each slot is a lease
that its process renews; a process that dies stops renewing, and its slots expire on their
own, so a crash never leaks capacity for longer than one lease.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections import defaultdict

import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class StreamSlots(abc.ABC):
    @abc.abstractmethod
    async def acquire(self, org_id: str, stream_id: str, limit: int) -> bool:
        """Take a slot unless ``limit`` streams of the organization are open."""

    @abc.abstractmethod
    async def release(self, org_id: str, stream_id: str) -> None: ...

    async def close(self) -> None:
        return None


class MemoryStreamSlots(StreamSlots):
    def __init__(self) -> None:
        self._held: dict[str, set[str]] = defaultdict(set)

    async def acquire(self, org_id: str, stream_id: str, limit: int) -> bool:
        held = self._held[org_id]
        if len(held) >= limit:
            return False
        held.add(stream_id)
        return True

    async def release(self, org_id: str, stream_id: str) -> None:
        held = self._held.get(org_id)
        if held is not None:
            held.discard(stream_id)
            if not held:
                del self._held[org_id]


_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class RedisStreamSlots(StreamSlots):
    """Slots as members of a sorted set per organization, scored by lease expiry."""

    def __init__(self, url: str | None = None, *, lease_seconds: float | None = None) -> None:
        self.url: str = url or settings.REDIS_URL or ""
        if not self.url:
            raise ImproperlyConfigured(f"{type(self).__name__} needs REDIS_URL")
        self.lease = lease_seconds or settings.SCANPULSE_STREAM_LEASE_SECONDS
        self._client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._held: dict[str, set[str]] = defaultdict(set)
        self._renewer: asyncio.Task[None] | None = None

    @staticmethod
    def _key(org_id: str) -> str:
        return f"scanpulse:streams:{org_id}"

    async def acquire(self, org_id: str, stream_id: str, limit: int) -> bool:
        now = time.time()
        granted = await self._acquire(
            keys=[self._key(org_id)],
            args=[now, limit, now + self.lease, stream_id, int(self.lease * 4) + 1],
        )
        if granted:
            self._held[org_id].add(stream_id)
            self._ensure_renewer()
        return bool(granted)

    async def release(self, org_id: str, stream_id: str) -> None:
        held = self._held.get(org_id)
        if held is not None:
            held.discard(stream_id)
            if not held:
                del self._held[org_id]
        try:
            await self._client.zrem(self._key(org_id), stream_id)
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("could not release stream slot (it will expire): %s", exc)

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self.lease / 3)
            expiry = time.time() + self.lease
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for org_id, streams in list(self._held.items()):
                        if streams:
                            pipe.zadd(self._key(org_id), dict.fromkeys(streams, expiry))
                            pipe.expire(self._key(org_id), int(self.lease * 4) + 1)
                    await pipe.execute()
            except (aioredis.RedisError, OSError) as exc:
                logger.warning("could not renew stream slots: %s", exc)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self._client.aclose()


def make_slots() -> StreamSlots:
    return import_string(settings.SCANPULSE_STREAM_SLOTS)()  # type: ignore[no-any-return]
