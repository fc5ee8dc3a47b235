"""Concurrent-stream limits per organization.

In production the count is shared by every web process through Redis. Each slot is a lease
that its process renews; a process that dies stops renewing, and its slots expire on their
own, so a crash never leaks capacity for longer than one lease.

Redis can also lose the count: restarted without persistence, or replaced by a replica that
had not received the leases. Its registry then starts empty while streams are open, so the
slots carry a marker of the registry's *epoch*. A process that finds the marker gone after
it had seen one knows the count was lost: it opens a rebuild window of half a lease, in
which new streams are refused (503, ``SlotsRebuilding``) while every process, renewing every
third of a lease, registers its open streams again. After it, the limit counts them all.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import defaultdict

import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scanpulse.core.backends import Backend

logger = logging.getLogger(__name__)


class SlotsRebuilding(Exception):
    """The registry was lost and is being rebuilt: nobody can tell yet whether there is room."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"stream slots are being rebuilt; retry in {retry_after} s")
        self.retry_after = retry_after


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


# Stream ids travel joined by commas in one argument (and grants come back as one string of
# 1s and 0s): packing thousands of separate arguments costs the client ~10 µs each, on the
# event loop every stream shares.
SEPARATOR = ","

# The registry's marker (KEYS[2]): its epoch, and until when it is being rebuilt. Missing, it is
# created: by a caller that knew an earlier epoch (the count was lost) with a rebuild window,
# otherwise (the first use of this Redis) without one.
_MARKER = """
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local rebuilt = redis.call('HGET', KEYS[2], 'rebuilt')
if not epoch then
  epoch = ARGV[{epoch}]
  rebuilt = ARGV[{rebuilt}]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'rebuilt', rebuilt)
end
"""

# Takes slots for a batch of streams of one organization, in order, while it has room.
# ARGV: now, limit, lease expiry, key TTL, the stream ids, a new epoch, when the registry is
# rebuilt if it has to be (now when this Redis is new to the caller); returns the epoch and
# "1"/"0" per stream, or the epoch, "wait" and until when.
_ACQUIRE = (
    _MARKER.format(epoch=6, rebuilt=7)
    + """
if tonumber(rebuilt) > tonumber(ARGV[1]) then
  return {epoch, 'wait', rebuilt}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local granted = {}
local any = false
for member in string.gmatch(ARGV[5], '[^,]+') do
  if count < limit then
    count = count + redis.call('ZADD', KEYS[1], ARGV[3], member)
    granted[#granted + 1] = '1'
    any = true
  else
    granted[#granted + 1] = '0'
  end
end
if any then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {epoch, 'ok', table.concat(granted)}
"""
)

# Renews leases: ARGV: lease expiry, key TTL, the stream ids, a new epoch, when the registry
# is rebuilt. Like ZADD of every id; returns the epoch.
_RENEW = (
    _MARKER.format(epoch=4, rebuilt=5)
    + """
local args = {}
for member in string.gmatch(ARGV[3], '[^,]+') do
  args[#args + 1] = ARGV[1]
  args[#args + 1] = member
  if #args >= 1000 then
    redis.call('ZADD', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then
  redis.call('ZADD', KEYS[1], unpack(args))
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return epoch
"""
)

# Releases: ARGV: the stream ids. Like ZREM of every id.
_RELEASE = """
local args = {}
for member in string.gmatch(ARGV[1], '[^,]+') do
  args[#args + 1] = member
  if #args >= 1000 then
    redis.call('ZREM', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then
  redis.call('ZREM', KEYS[1], unpack(args))
end
return 1
"""

# Streams per Redis call when a crowd arrives or leaves at once.
BATCH = 1000


class RedisStreamSlots(StreamSlots):
    """Slots as members of a sorted set per organization, scored by lease expiry.

    Acquisitions and releases that arrive together (a crowd opening a page, a reconnect
    storm, a proxy dropping every connection) are sent to Redis together: one script call per
    organization for the acquisitions and one for the releases, one after the other.
    One call per stream would need as many connections as there are streams in flight, and
    the client's pool refuses the 101st.
    """

    def __init__(self, url: str | None = None, *, lease_seconds: float | None = None) -> None:
        self.url: str = url or settings.REDIS_URL or ""
        if not self.url:
            raise ImproperlyConfigured(f"{type(self).__name__} needs REDIS_URL")
        self.lease = lease_seconds or settings.SCANPULSE_STREAM_LEASE_SECONDS
        self._client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self._held: dict[str, set[str]] = defaultdict(set)
        self._renewer: asyncio.Task[None] | None = None
        self._acquiring: dict[tuple[str, int], list[tuple[str, asyncio.Future[bool]]]] = {}
        self._releasing: dict[str, list[tuple[str, asyncio.Future[None] | None]]] = {}
        self._flusher: asyncio.Task[None] | None = None
        # Renewals and batches go to Redis one at a time: a renewal re-adds every held
        # stream, so it must not overtake the release of a stream that ended after it read them.
        self._redis_turn = asyncio.Lock()
        self._epoch: bytes | None = None  # of the registry this process registered with
        self._renew_now = asyncio.Event()

    @staticmethod
    def _key(org_id: str) -> str:
        return f"scanpulse:streams:{org_id}"

    MARKER = "scanpulse:stream-slots"

    async def acquire(self, org_id: str, stream_id: str, limit: int) -> bool:
        if SEPARATOR in stream_id or not stream_id:
            raise ValueError(f"stream ids must be non-empty and free of {SEPARATOR!r}")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acquiring.setdefault((org_id, limit), []).append((stream_id, future))
        self._ensure_flusher()
        granted = await future
        if granted:
            self._held[org_id].add(stream_id)
            self._ensure_renewer()
        return granted

    async def release(self, org_id: str, stream_id: str) -> None:
        held = self._held.get(org_id)
        if held is not None:
            held.discard(stream_id)
            if not held:
                del self._held[org_id]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._releasing.setdefault(org_id, []).append((stream_id, future))
        self._ensure_flusher()
        await future

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the requests of this turn of the loop join the batch
        while self._acquiring or self._releasing:
            releasing, self._releasing = self._releasing, {}
            acquiring, self._acquiring = self._acquiring, {}
            try:
                async with self._redis_turn:
                    # Releases first: a slot freed before a request arrived is free for it.
                    for org_id, streams in releasing.items():
                        await self._release_batch(org_id, streams)
                    for (org_id, limit), waiting in acquiring.items():
                        for start in range(0, len(waiting), BATCH):
                            await self._acquire_batch(org_id, limit, waiting[start : start + BATCH])
            finally:
                # Cancelled (shutdown) half-way: nobody may wait for an answer forever.
                _abandon(releasing, acquiring, "stream slots are closing")

    async def _release_batch(
        self, org_id: str, streams: list[tuple[str, asyncio.Future[None] | None]]
    ) -> None:
        error: BaseException | None = None
        try:
            for start in range(0, len(streams), BATCH):
                members = SEPARATOR.join(
                    stream_id for stream_id, _ in streams[start : start + BATCH]
                )
                await self._release(keys=[self._key(org_id)], args=[members])
        except (aioredis.RedisError, OSError) as exc:
            logger.warning(
                "could not release %d stream slot(s) (they will expire): %s", len(streams), exc
            )
        except Exception as exc:
            error = exc
        for _stream_id, future in streams:
            if future is not None and not future.done():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
                    future.exception()

    def _rebuilt_at(self, now: float) -> float:
        """Until when a registry found missing is being rebuilt: half a lease, in which every
        process renews (a third of a lease apart), if this process knew it before; a Redis
        it never used is simply new."""
        return now + self.lease / 2 if self._epoch is not None else now

    def _registered(self, epoch: bytes) -> None:
        if epoch != self._epoch:
            if self._epoch is not None and self._held:
                # The registry was lost and started again without this process's streams.
                self._renew_now.set()
            self._epoch = epoch

    async def _acquire_batch(
        self, org_id: str, limit: int, waiting: list[tuple[str, asyncio.Future[bool]]]
    ) -> None:
        now = time.time()
        try:
            epoch, state, answer = await self._acquire(
                keys=[self._key(org_id), self.MARKER],
                args=[
                    now,
                    limit,
                    now + self.lease,
                    int(self.lease * 4) + 1,
                    SEPARATOR.join(stream_id for stream_id, _ in waiting),
                    uuid.uuid4().hex,
                    self._rebuilt_at(now),
                ],
            )
            self._registered(epoch)
            if state == b"wait":
                retry_after = max(1, math.ceil(float(answer) - now))
                raise SlotsRebuilding(retry_after)
        except Exception as exc:
            for _stream_id, future in waiting:
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # the stream reports it; never "never retrieved"
            return
        granted = answer
        for (stream_id, future), grant in zip(waiting, bytes(granted), strict=True):
            ok = grant == ord("1")
            if not future.done():
                future.set_result(ok)
            elif ok:  # its stream went away while waiting: give the slot back
                self._releasing.setdefault(org_id, []).append((stream_id, None))

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while self._held:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease / 3):
                    await self._renew_now.wait()
            self._renew_now.clear()
            now = time.time()
            try:
                async with self._redis_turn:
                    for org_id, streams in list(self._held.items()):
                        if streams:
                            epoch = await self._renew(
                                keys=[self._key(org_id), self.MARKER],
                                args=[
                                    now + self.lease,
                                    int(self.lease * 4) + 1,
                                    SEPARATOR.join(streams),
                                    uuid.uuid4().hex,
                                    self._rebuilt_at(now),
                                ],
                            )
                            self._epoch = epoch
            except (aioredis.RedisError, OSError) as exc:
                logger.warning("could not renew stream slots: %s", exc)

    async def close(self) -> None:
        for task in (self._renewer, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        releasing, self._releasing = self._releasing, {}
        acquiring, self._acquiring = self._acquiring, {}
        _abandon(releasing, acquiring, "stream slots are closed")
        await self._client.aclose()


def _abandon(
    releasing: dict[str, list[tuple[str, asyncio.Future[None] | None]]],
    acquiring: dict[tuple[str, int], list[tuple[str, asyncio.Future[bool]]]],
    reason: str,
) -> None:
    """Answer requests that will not reach Redis: as if Redis had failed."""
    unreleased = 0
    for streams in releasing.values():
        for _stream_id, release in streams:
            if release is not None and not release.done():
                release.set_result(None)
                unreleased += 1
    if unreleased:
        logger.warning(
            "could not release %d stream slot(s) (they will expire): %s", unreleased, reason
        )
    for waiting in acquiring.values():
        for _stream_id, future in waiting:
            if not future.done():
                future.set_exception(aioredis.RedisError(reason))
                future.exception()  # the stream reports it; never "never retrieved"


_slots: Backend[StreamSlots] = Backend("SCANPULSE_STREAM_SLOTS")


def make_slots() -> StreamSlots:
    return _slots.build()
