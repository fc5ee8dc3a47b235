"""Rate limits, counted in Django's cache: in memory for one embedded process, in Redis when
``REDIS_URL`` is set, so that every web process shares the same counts.

Counters are fixed windows incremented with ``cache.incr``, which is atomic in both backends:
concurrent requests in different processes can never both take the last slot of a window (a
read-modify-write of a list of timestamps, as DRF's own throttles do, could). A client may
burst up to twice its rate across a window boundary; it never exceeds that.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# After a cache error, limits are skipped for this long instead of each request waiting for
# the cache to time out again.
_RETRY_CACHE_AFTER_SECONDS = 5.0
_cache_down_until = 0.0


def _fail_open(fallback: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Limits protect the service; they must not take it down. When the cache (Redis) is
    unreachable, requests are let through (for a few seconds without even asking it again)
    and the outage is logged."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            global _cache_down_until
            if time.monotonic() < _cache_down_until:
                return fallback
            try:
                return function(*args, **kwargs)
            except Exception as exc:  # any cache backend error: connection, timeout, protocol
                _cache_down_until = time.monotonic() + _RETRY_CACHE_AFTER_SECONDS
                logger.warning("rate limits not enforced, the cache is unavailable: %s", exc)
                return fallback

        return guarded

    return decorate


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"600/minute"``, ``"5/15m"``, ``"30/min"``, ``"1000/h"``: a count per period."""
        count, _, period = text.strip().partition("/")
        period = period.strip().lower()
        digits = ""
        while period and period[0].isdigit():
            digits, period = digits + period[0], period[1:]
        if not count.strip().isdigit() or not period or period[0] not in _PERIODS:
            raise ValueError(f"not a rate: {text!r} (use e.g. 600/minute or 5/15m)")
        seconds = int(digits or 1) * _PERIODS[period[0]]
        return cls(int(count), seconds)


def client_ip(request: Any) -> str:
    """The client's address. ``REMOTE_ADDR`` only: the server already replaced it with the
    forwarded address when (and only when) the connection came from a trusted proxy
    (``SCANPULSE_FORWARDED_ALLOW_IPS``), so a client cannot pick its own by sending
    ``X-Forwarded-For``."""
    meta = getattr(request, "META", {})
    return str(meta.get("REMOTE_ADDR") or "unknown")


@functools.lru_cache(maxsize=16_384)
def _digest(*parts: str) -> str:
    # Keys never hold what a client sent in clear (usernames, addresses), and stay short.
    # Remembered: the same tokens, users and addresses come back on every request.
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _rate_key(scope: str, ident: str, rate: Rate, now: float) -> str:
    return f"scanpulse:rate:{scope}:{_digest(ident)}:{int(now // rate.seconds)}"


@_fail_open(None)
def hit(scope: str, ident: str, rate: Rate, *, now: float | None = None) -> float | None:
    """Count one request of ``ident`` in the current window of ``rate``; the seconds to wait
    if it is over the limit, else None."""
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = _rate_key(scope, ident, rate, now)
    cache.add(key, 0, timeout=rate.seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first hit of a new key
        cache.add(key, 1, timeout=rate.seconds + 1)
        count = 1
    if count <= rate.limit:
        return None
    return max(1.0, (window + 1) * rate.seconds - now)


class ScopedRateThrottle(BaseThrottle):
    """A fixed-window throttle; subclasses say what they count (``ident``) and at what rate."""

    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def rate(self) -> Rate | None:
        return configured_rate(self.scope)

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = self.rate()
        ident = self.ident(request)
        if rate is None or ident is None:
            return True
        self._wait = hit(self.scope, ident, rate)
        return self._wait is None

    def wait(self) -> float | None:
        return None if self._wait is None else float(math.ceil(self._wait))


class TokenRateThrottle(ScopedRateThrottle):
    """Requests per API token (or per user, for browser sessions)."""

    scope = "token"

    def ident(self, request: Request) -> str | None:
        auth = request.auth
        digest = getattr(auth, "digest", None)
        if digest:
            # The token's digest, not its row id: the polling edge counts a token before
            # reading it (``EdgeLimits``), from the Authorization header alone.
            return token_ident(str(digest))
        user = request.user
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return None


def token_ident(digest: str) -> str:
    return f"token:{digest}"


def user_ident(user_id: Any) -> str:
    return f"user:{user_id}"


class IPRateThrottle(ScopedRateThrottle):
    """Requests per client address, whoever is asking."""

    scope = "ip"

    def ident(self, request: Request) -> str | None:
        return client_ip(request)


class FailureLimiter:
    """Counts failures (wrong passwords, unknown tokens) per key for ``rate.seconds`` from the
    first one; at ``rate.limit`` failures the key is blocked until that period is over.
    Without a rate (an empty setting) nothing is counted or blocked."""

    def __init__(self, scope: str, rate: Rate | None) -> None:
        self.scope = scope
        self.rate = rate

    def _keys(self, *parts: str) -> tuple[str, str]:
        base = f"scanpulse:failures:{self.scope}:{_digest(*parts)}"
        return base, base + ":since"

    @_fail_open(None)
    def blocked_for(self, *parts: str) -> float | None:
        """Seconds until the key may try again, or None if it may now."""
        if self.rate is None:
            return None
        count_key, since_key = self._keys(*parts)
        values = cache.get_many([count_key, since_key])
        if values.get(count_key, 0) < self.rate.limit:
            return None
        since = values.get(since_key, time.time())
        return max(1.0, math.ceil(since + self.rate.seconds - time.time()))

    @_fail_open(0)
    def record(self, *parts: str) -> int:
        """Count one failure; returns the count in the current period."""
        if self.rate is None:
            return 0
        count_key, since_key = self._keys(*parts)
        timeout = self.rate.seconds
        if cache.add(count_key, 0, timeout=timeout):
            cache.set(since_key, time.time(), timeout=timeout)
        try:
            return int(cache.incr(count_key))
        except ValueError:
            cache.set(count_key, 1, timeout=timeout)
            cache.set(since_key, time.time(), timeout=timeout)
            return 1

    @_fail_open(None)
    def reset(self, *parts: str) -> None:
        if self.rate is None:
            return
        cache.delete_many(list(self._keys(*parts)))


def configured_rate(name: str) -> Rate | None:
    """The rate ``SCANPULSE_THROTTLE_RATES[name]``, None when empty (off)."""
    return _parsed_rate(settings.SCANPULSE_THROTTLE_RATES.get(name) or "")


@functools.lru_cache(maxsize=64)
def _parsed_rate(text: str) -> Rate | None:
    return Rate.parse(text) if text.strip() else None


def auth_failures() -> FailureLimiter:
    """Failed token authentications per client address."""
    return FailureLimiter("auth", configured_rate("auth_failures"))


def login_failures() -> FailureLimiter:
    """Failed sign-ins per account and client address."""
    return FailureLimiter("login", configured_rate("login_failures"))


def login_failures_per_address() -> FailureLimiter:
    """Failed sign-ins per client address, whatever the account (password spraying)."""
    return FailureLimiter("login-address", configured_rate("login_address_failures"))


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

    async def run(self, keys: list[str], argv: list[Any]) -> Any:
        """The script's reply for one check (raises what Redis raised)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, argv, future))
        if not self._sending:
            self._sending = True
            asyncio.get_running_loop().create_task(self._send())
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

        for attempt in range(2):
            pipe = self.redis.pipeline(transaction=False)
            for keys, argv, _ in batch:
                pipe.evalsha(self._sha, len(keys), *keys, *argv)
            replies = await asyncio.wait_for(pipe.execute(raise_on_error=False), EDGE_REDIS_TIMEOUT)
            if attempt == 0 and any(
                isinstance(reply, redis.exceptions.NoScriptError) for reply in replies
            ):
                # Redis restarted or its scripts were flushed: load it, send the batch again.
                await asyncio.wait_for(self.redis.script_load(_LIMITS_SCRIPT), EDGE_REDIS_TIMEOUT)
                continue
            return list(replies)
        return list(replies)

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
    every count; with Redis, all of it is one script, one round trip.
    """

    def __init__(self) -> None:
        self._batches: _ScriptBatches | None = None

    def uses_redis(self) -> bool:
        """Whether a check is a round trip to Redis (else the process's own memory)."""
        return self._backend_url() is not None and time.monotonic() >= _cache_down_until

    def _backend_url(self) -> str | None:
        default = settings.CACHES["default"]
        if default.get("BACKEND") == "django.core.cache.backends.redis.RedisCache":
            location: Any = default["LOCATION"]
            return str(location if isinstance(location, str) else location[0])
        return None

    def _keys(self, address: str, ident: str | None, now: float) -> tuple[list[str], list[int]]:
        failures = auth_failures()
        count_key, since_key = failures._keys(address)
        keys = [cache.make_key(count_key), cache.make_key(since_key)]
        argv = [failures.rate.limit if failures.rate is not None else 0]
        for scope, who in (("token", ident), ("ip", address)):
            rate = configured_rate(scope)
            if rate is None or who is None:
                keys.append(cache.make_key(f"scanpulse:rate:{scope}:-"))
                argv += [0, 1]
                continue
            keys.append(cache.make_key(_rate_key(scope, who, rate, now)))
            argv += [rate.limit, rate.seconds + 1]
        return keys, argv

    async def check(self, *, address: str, ident: str | None, bearer: bool) -> Refusal | None:
        """Count one request; a refusal if it is over a limit. ``bearer``: check the address's
        failed authentications first (a blocked address is counted nowhere)."""
        url = self._backend_url()
        if url is None:
            return self._check_in_process(address, ident, bearer)
        global _cache_down_until
        if time.monotonic() < _cache_down_until:
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
            if time.monotonic() >= _cache_down_until:
                _cache_down_until = time.monotonic() + _RETRY_CACHE_AFTER_SECONDS
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
        key = cache.make_key(_rate_key("ip", address, rate, time.time()))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._batches.redis.decr(key), EDGE_REDIS_TIMEOUT)

    async def close(self) -> None:
        if self._batches is not None:
            batches, self._batches = self._batches, None
            await batches.close()
