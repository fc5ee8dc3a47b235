"""Rate limits, counted in Django's cache: in memory for one embedded process, in Redis when
``REDIS_URL`` is set, so that every web process shares the same counts.

Counters are fixed windows incremented with ``cache.incr``, which is atomic in both backends:
concurrent requests in different processes can never both take the last slot of a window (a
read-modify-write of a list of timestamps, as DRF's own throttles do, could). A client may
burst up to twice its rate across a window boundary; it never exceeds that.
"""

from __future__ import annotations

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
