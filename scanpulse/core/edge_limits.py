"""The API's rate limits at the ASGI edge: the polling routes answered in front of Django
count every request in the same windows as ``core.throttling``'s throttles (the same keys), in
one Lua script per request, sent to Redis in batches; the embedded mode's in-memory cache is
counted with the Django path's own calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches

from . import throttling
from .throttling import (
    _RETRY_CACHE_AFTER_SECONDS,
    _rate_key,
    auth_failures,
    configured_rate,
    hit,
)

logger = logging.getLogger("scanpulse.core.throttling")

# -- the same limits in one round trip, for the ASGI edge ---------------------------------------

# KEYS: failure count, failure start, token (or user) window, address window.
# ARGV: failure limit (0: not checked), token limit, token TTL, address limit, address TTL
# (a limit of 0: not counted). Blocked: {1, start}; else {0, token count, address count}.
_LIMITS_SCRIPT = """
local failure_limit = tonumber(ARGV[1])
if failure_limit > 0 then
  local failures = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  if failures >= failure_limit then
    return {1, redis.call('GET', KEYS[2]) or ''}
  end
end
local counts = {0, 0, 0}
for index = 1, 2 do
  local limit = tonumber(ARGV[index * 2])
  if limit > 0 then
    local key = KEYS[index + 2]
    local count = redis.call('INCR', key)
    if count == 1 then redis.call('EXPIRE', key, ARGV[index * 2 + 1]) end
    counts[index + 1] = count
  end
end
return counts
"""


# Redis connections of one process's edge limits: the batches go one at a time on one of them.
EDGE_REDIS_CONNECTIONS = 2
# A batch's reply is awaited this long before the limits fail open (Redis unreachable). Not
# shorter: a process whose event loop is behind reads a reply late, and being busy must not
# switch its limits off.
EDGE_REDIS_TIMEOUT = 5.0


class _ScriptBatches:
    """The limit checks of one process, sent to Redis in batches: the checks that arrive
    while a batch is out go together in the next, as one pipeline of ``EVALSHA`` calls on one
    connection. A check is still one script, so counts stay exact and atomic per request; but
    a busy process makes one round trip for many requests instead of waiting for a free
    connection each (a pool that thousands of polls in flight share runs dry, and a request
    that waited for it in vain let its limits fail open)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=EDGE_REDIS_CONNECTIONS,
            timeout=EDGE_REDIS_TIMEOUT,
            socket_timeout=EDGE_REDIS_TIMEOUT,
            socket_connect_timeout=EDGE_REDIS_TIMEOUT,
        )
        self.redis = redis.asyncio.Redis(connection_pool=pool)
        self._sha = hashlib.sha1(_LIMITS_SCRIPT.encode(), usedforsecurity=False).hexdigest()
        self._waiting: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._sending = False
        self._sender: asyncio.Task[None] | None = None  # held: a task nobody holds may vanish

    async def run(self, keys: list[str], argv: list[Any]) -> Any:
        """The script's reply for one check (raises what Redis raised)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, argv, future))
        if not self._sending:
            self._sending = True
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    replies = await self._pipeline(batch)
                except Exception as exc:  # every check of the batch fails the same way
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, _, future), reply in zip(batch, replies, strict=True):
                    if future.done():
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        finally:
            self._sending = False

    async def _pipeline(self, batch: list[tuple[list[str], list[Any], Any]]) -> list[Any]:
        import redis.exceptions

        replies = await self._send_once(batch)
        if any(isinstance(reply, redis.exceptions.NoScriptError) for reply in replies):
            # Redis restarted or its scripts were flushed: load it, send the batch again.
            await asyncio.wait_for(self.redis.script_load(_LIMITS_SCRIPT), EDGE_REDIS_TIMEOUT)
            replies = await self._send_once(batch)
        return replies

    async def _send_once(self, batch: list[tuple[list[str], list[Any], Any]]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for keys, argv, _ in batch:
            pipe.evalsha(self._sha, len(keys), *keys, *argv)
        return list(await asyncio.wait_for(pipe.execute(raise_on_error=False), EDGE_REDIS_TIMEOUT))

    async def close(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()


@dataclass(frozen=True)
class Refusal:
    """A request refused by a limit: DRF's exception for it (its message and code) and the
    seconds to wait."""

    failures: bool  # too many failed authentications, else over a rate
    wait: float


def _cache_value(raw: Any, default: Any) -> Any:
    """A value as Django's Redis cache stores it: integers as such, anything else pickled."""
    if raw in (None, b""):
        return default
    try:
        return int(raw)
    except ValueError:
        import pickle

        return pickle.loads(raw)  # noqa: S301 - written by Django's cache, in our own Redis


class EdgeLimits:
    """The API's limits for a request answered outside Django: the failed-authentication
    block of ``BearerTokenAuthentication`` (bearer requests only), then the per-token (or
    per-user) and per-address windows of ``TokenRateThrottle`` and ``IPRateThrottle``. Same
    keys, same counts and the same fail-open rule as the Django path, so both paths share
    every count; with Redis, all of it is one script per request, sent with the other
    requests' in one round trip.
    """

    def __init__(self) -> None:
        self._batches: _ScriptBatches | None = None
        self._key_config: Any = None
        self._make_key: Callable[[str], str] = str  # until the first request

    def _key_maker(self) -> Callable[[str], str]:
        """The cache's ``make_key``, from a backend made once: through ``cache`` (a proxy to a
        backend per async context) every request made a backend of its own, a tenth of a
        busy process's time. Made again if the cache settings change."""
        config = settings.CACHES["default"]
        if config is not self._key_config:
            self._key_config = config
            self._make_key = caches.create_connection("default").make_key
        return self._make_key

    def uses_redis(self) -> bool:
        """Whether a check is a round trip to Redis (else the process's own memory)."""
        return self._backend_url() is not None and time.monotonic() >= throttling._cache_down_until

    def _backend_url(self) -> str | None:
        default = settings.CACHES["default"]
        if default.get("BACKEND") == "django.core.cache.backends.redis.RedisCache":
            location: Any = default["LOCATION"]
            return str(location if isinstance(location, str) else location[0])
        return None

    def _keys(self, address: str, ident: str | None, now: float) -> tuple[list[str], list[int]]:
        make_key = self._key_maker()
        failures = auth_failures()
        count_key, since_key = failures._keys(address)
        keys = [make_key(count_key), make_key(since_key)]
        argv = [failures.rate.limit if failures.rate is not None else 0]
        for scope, who in (("token", ident), ("ip", address)):
            rate = configured_rate(scope)
            if rate is None or who is None:
                keys.append(make_key(f"scanpulse:rate:{scope}:-"))
                argv += [0, 1]
                continue
            keys.append(make_key(_rate_key(scope, who, rate, now)))
            argv += [rate.limit, rate.seconds + 1]
        return keys, argv

    async def check(self, *, address: str, ident: str | None, bearer: bool) -> Refusal | None:
        """Count one request; a refusal if it is over a limit. ``bearer``: check the address's
        failed authentications first (a blocked address is counted nowhere)."""
        url = self._backend_url()
        if url is None:
            return self._check_in_process(address, ident, bearer)
        if time.monotonic() < throttling._cache_down_until:
            return None
        now = time.time()
        keys, argv = self._keys(address, ident, now)
        if not bearer:
            argv[0] = 0
        try:
            if self._batches is None:
                self._batches = _ScriptBatches(url)
            reply = await self._batches.run(keys, argv)
        except Exception as exc:  # any cache error: limits fail open, as on the Django path
            # Said once per outage: the checks of a failed batch all fail together.
            if time.monotonic() >= throttling._cache_down_until:
                throttling._cache_down_until = time.monotonic() + _RETRY_CACHE_AFTER_SECONDS
                logger.warning(
                    "rate limits not enforced, the cache is unavailable: %s",
                    str(exc) or type(exc).__name__,
                )
            return None
        if int(reply[0]) == 1:
            failures = auth_failures()
            assert failures.rate is not None
            since = float(_cache_value(reply[1], now))
            return Refusal(True, max(1.0, math.ceil(since + failures.rate.seconds - now)))
        # Both windows count every request; the longer wait is the answer (DRF's rule).
        waits = []
        for scope, count in zip(("token", "ip"), reply[1:3], strict=True):
            rate = configured_rate(scope)
            if rate is not None and int(count) > rate.limit:
                window = int(now // rate.seconds)
                waits.append(float(math.ceil(max(1.0, (window + 1) * rate.seconds - now))))
        return Refusal(False, max(waits)) if waits else None

    def _check_in_process(self, address: str, ident: str | None, bearer: bool) -> Refusal | None:
        """The in-memory cache of the embedded mode: no I/O, the Django path's own calls."""
        if bearer:
            wait = auth_failures().blocked_for(address)
            if wait is not None:
                return Refusal(True, wait)
        waits = []
        for scope, who in (("token", ident), ("ip", address)):
            rate = configured_rate(scope)
            if rate is None or who is None:
                continue
            wait = hit(scope, who, rate)
            if wait is not None:
                waits.append(float(math.ceil(wait)))
        return Refusal(False, max(waits)) if waits else None

    async def uncount_address(self, address: str) -> None:
        """Take back the address's count of a request that turned out not to be
        authenticated (the Django path counts only authenticated requests)."""
        rate = configured_rate("ip")
        if rate is None:
            return
        if self._batches is None:
            with contextlib.suppress(Exception):
                cache.decr(_rate_key("ip", address, rate, time.time()))
            return
        key = self._key_maker()(_rate_key("ip", address, rate, time.time()))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._batches.redis.decr(key), EDGE_REDIS_TIMEOUT)

    async def close(self) -> None:
        if self._batches is not None:
            batches, self._batches = self._batches, None
            await batches.close()
