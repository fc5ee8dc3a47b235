"""The polling routes at the ASGI edge: ``GET /api/scans/{id}/status`` and
``GET /api/scans/{id}/events?after=``, answered from the memory the streams already keep.

Polling is the fallback of clients that cannot stream, and thousands of them poll the same
few scans every few seconds. Through Django each poll took a thread of the one synchronous
request path of the process, authenticated against the database, read Redis three to five
times for the limits and read the scan. Here, like the streams, a poll:

- finds its principal in the per-process principal cache of the streams
  (``scanpulse.events.access``), which the access monitor reads again in batches while the
  credential keeps polling, and which broadcasts (a token revoked, a member removed, a logout)
  clear at once;
- is counted against the API's limits, the failed-authentication block included, in one Redis
  round trip (``scanpulse.core.edge_limits.EdgeLimits``, the same keys as the Django path);
- is answered from the hub's channel of the scan: the newest event number the process has seen
  on the bus (the snapshot's validator) and the snapshot read at that number. An unchanged scan
  is a 304 (or, for events, an empty page) without SQL; the first poll after an event reads the
  row once per process for every poller of that scan.

Everything else — another method, a path or query the fast path does not parse exactly as the
API does, no credentials, a credential known to be invalid, a session that does not resolve —
goes to Django, whose answer is the reference: the answers here have its bodies, statuses and
headers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl

from django.utils.http import parse_etags
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from scanpulse.core.asgi import ASGIApp, Header, Receive, Scope, Send, send_body
from scanpulse.core.edge_limits import EdgeLimits, Refusal
from scanpulse.core.errors import DATABASE_UNAVAILABLE, error_body, retry_after_header
from scanpulse.core.exceptions import Unavailable
from scanpulse.core.throttling import auth_failures, token_ident, user_ident
from scanpulse.scans.polling import PollRead, caught_up_page, poll_read, status_etag
from scanpulse.scans.resume import InvalidCursor, parse_cursor

from . import metrics
from .access import MISS
from .db import run_db
from .hub import Channel
from .principals import Principal, credentials

logger = logging.getLogger(__name__)

# Django's <uuid:...> converter: lowercase, hyphenated. Anything else is Django's 404.
ROUTE = re.compile(
    r"^/api/scans/(?P<scan>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"/(?P<route>status|events)$"
)
LIMIT = re.compile(r"^[0-9]{1,3}$")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_SNAPSHOTS = 4096
MAX_PAGES = 4096

JSON = b"application/json"
# What the API view's answers carry besides their body (DRF's); answers to a session also
# vary by its cookie (Django's session middleware).
API_HEADERS: list[Header] = [(b"allow", b"GET, HEAD, OPTIONS")]
VARY_COOKIE: Header = (b"vary", b"Cookie")
NO_CACHE: Header = (b"cache-control", b"no-cache")
WWW_AUTHENTICATE: Header = (b"www-authenticate", b'Bearer realm="scanpulse"')

_render = JSONRenderer().render


def matches(path: str) -> bool:
    return bool(ROUTE.match(path))


class Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes = b"", headers: list[Header] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []


def _error(status: int, code: str, message: str, headers: list[Header] | None = None) -> Answer:
    return Answer(status, _render(error_body(code, message)), [*(headers or []), *API_HEADERS])


NOT_FOUND = ("not_found", "Scan not found.")


def _refused(refusal: Refusal, bearer: bool = True) -> Answer:
    from scanpulse.tenancy.authentication import TooManyFailures

    exc: exceptions.Throttled = (
        TooManyFailures(wait=refusal.wait)
        if refusal.failures
        else exceptions.Throttled(wait=refusal.wait)
    )
    code = exc.get_codes()
    answer = _error(
        429,
        code if isinstance(code, str) else exc.default_code,
        str(exc.detail),
        [(b"retry-after", retry_after_header(refusal.wait).encode())],
    )
    if not bearer:
        answer.headers.append(VARY_COOKIE)
    return answer


class PollApp:
    """The two polling routes; ``streams`` is the process's stream application, whose hub and
    principal cache this shares, ``fallback`` Django."""

    def __init__(self, streams: Any, fallback: ASGIApp) -> None:
        self.streams = streams
        self.fallback = fallback
        self.limits = EdgeLimits()
        # scan id -> its snapshot as last read (its "last_event_id" says at which event).
        self.snapshots: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # (scan id, after, limit) -> (the scan's newest event number then, the body).
        self.pages: OrderedDict[tuple[str, int, int], tuple[int, bytes]] = OrderedDict()
        self._reads: dict[tuple[str, tuple[int, int] | None], asyncio.Future[PollRead | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.streams.ensure_started()
        try:
            answer = await self._answer(scope)
        except DATABASE_UNAVAILABLE as error:
            logger.error("poll refused, the database is unavailable: %s", error)
            unavailable = Unavailable(retry_after=5)
            answer = _error(
                503,
                unavailable.code,
                unavailable.message,
                [(b"retry-after", retry_after_header(5).encode())],
            )
        if answer is None:
            metrics.POLL_ANSWERS.labels(source="django").inc()
            await self.fallback(scope, receive, send)
            return
        content_type = JSON if answer.body or answer.status != 304 else None
        headers = answer.headers
        if content_type is None:
            headers = [(b"content-length", b"0"), *headers]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send_body(send, answer.status, answer.body, content_type, headers)

    # -- the answer ----------------------------------------------------------------------------

    async def _answer(self, scope: Scope) -> Answer | None:
        if scope["method"] != "GET":
            return None
        match = ROUTE.match(scope["path"])
        if match is None:
            return None
        route = match.group("route")
        page: tuple[int, int] | None = None
        if route == "events":
            page = _page(scope.get("query_string", b""))
            if page is None:
                return None  # Django words the 400
        headers = {name.lower(): value for name, value in scope["headers"]}
        found = credentials(headers)
        if found is None or found[0] == "invalid":
            return None  # Django answers 401 (and counts a malformed token as a failure)
        auth_key, secret = found
        bearer = auth_key.startswith("t:")
        address = str((scope.get("client") or ("unknown",))[0] or "unknown")
        principals = self.streams.principals
        principal = principals.peek(auth_key)
        if principal is None:
            return None  # known to be invalid: Django refuses it, counting the failure
        if principal is MISS:
            if bearer:
                # The address's failed attempts are checked before any lookup, as in Django.
                refusal = await self._limit(address, token_ident(auth_key[2:]), bearer)
                if refusal is not None:
                    return _refused(refusal)
                principal = await principals.fetch_batched(auth_key, secret)
                if principal is None:
                    await self._failed(address)
                    return _error(
                        401,
                        "not_authenticated",
                        "Invalid or revoked token.",
                        [WWW_AUTHENTICATE],
                    )
            else:
                principal = await principals.fetch_batched(auth_key, secret)
                if principal is None:
                    return None  # not signed in: Django's 401
                refusal = await self._limit(address, user_ident(principal.user_id), bearer)
                if refusal is not None:
                    return _refused(refusal, bearer)
        else:
            ident = token_ident(auth_key[2:]) if bearer else user_ident(principal.user_id)
            refusal = await self._limit(address, ident, bearer)
            if refusal is not None:
                return _refused(refusal, bearer)
        principals.note_polled(auth_key, secret)
        etags = parse_etags(headers.get(b"if-none-match", b"").decode("latin-1"))
        answer = await self._scan(principal, match.group("scan"), page, etags)
        if not bearer:
            answer.headers.append(VARY_COOKIE)
        return answer

    async def _limit(self, address: str, ident: str, bearer: bool) -> Refusal | None:
        if self.limits.uses_redis():
            metrics.POLL_REDIS.inc()
        return await self.limits.check(address=address, ident=ident, bearer=bearer)

    async def _failed(self, address: str) -> None:
        """A token that is not valid: one more failure of the address (as in Django), and
        the request is not one of the address's counted API requests (Django counts only
        authenticated ones)."""
        metrics.POLL_REDIS.inc(2)
        await asyncio.to_thread(auth_failures().record, address)
        await self.limits.uncount_address(address)

    async def _scan(
        self,
        principal: Principal,
        scan_id: str,
        page: tuple[int, int] | None,
        etags: list[str],
    ) -> Answer:
        hub = self.streams.hub
        channel: Channel | None = hub.scans.get(scan_id)
        if channel is not None and channel.org_id is not None and channel.last is not None:
            if channel.org_id not in principal.org_ids:
                return _error(404, *NOT_FOUND)
            channel.polled_at = time.monotonic()
            answer = self._from_memory(scan_id, channel.last, page, etags)
            if answer is not None:
                metrics.POLL_ANSWERS.labels(source="memory").inc()
                return answer
        read = await self._read(scan_id, page)
        if read is None or read.org_id not in principal.org_ids:
            return _error(404, *NOT_FOUND)
        metrics.POLL_ANSWERS.labels(source="database").inc()
        last = read.snapshot["last_event_id"]
        etag = status_etag(scan_id, last)
        if page is None:
            if etag in etags:
                return Answer(304, b"", [(b"etag", etag.encode()), NO_CACHE, *API_HEADERS])
            return self._snapshot_answer(read.snapshot, etag)
        assert read.page is not None
        return Answer(200, self._keep_page(scan_id, page, last, read.page), list(API_HEADERS))

    def _from_memory(
        self, scan_id: str, last: int, page: tuple[int, int] | None, etags: list[str]
    ) -> Answer | None:
        snapshot = self.snapshots.get(scan_id)
        current = snapshot is not None and snapshot["last_event_id"] == last
        if page is None:
            etag = status_etag(scan_id, last)
            if etag in etags:
                return Answer(304, b"", [(b"etag", etag.encode()), NO_CACHE, *API_HEADERS])
            return self._snapshot_answer(snapshot, etag) if current else None
        after, limit = page
        if after == last and current:
            assert snapshot is not None
            return Answer(200, _render(caught_up_page(snapshot)), list(API_HEADERS))
        kept = self.pages.get((scan_id, after, limit))
        if kept is not None and kept[0] == last:
            return Answer(200, kept[1], list(API_HEADERS))
        return None

    def _snapshot_answer(self, snapshot: Any, etag: str) -> Answer:
        headers = [(b"etag", etag.encode()), NO_CACHE, *API_HEADERS]
        return Answer(200, _render(snapshot), headers)

    def _keep_page(
        self, scan_id: str, page: tuple[int, int], last: int, body: dict[str, Any]
    ) -> bytes:
        rendered: bytes = _render(body)
        key = (scan_id, *page)
        self.pages[key] = (last, rendered)
        self.pages.move_to_end(key)
        while len(self.pages) > MAX_PAGES:
            self.pages.popitem(last=False)
        return rendered

    async def _read(self, scan_id: str, page: tuple[int, int] | None) -> PollRead | None:
        """The scan's row (and the page), one read per process for identical requests in
        flight; what it shows is kept for the polls that follow."""
        key = (scan_id, page)
        pending = self._reads.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        hub = self.streams.hub
        generation = hub.generation
        future: asyncio.Future[PollRead | None] = asyncio.get_running_loop().create_future()
        self._reads[key] = future
        try:
            read: PollRead | None = await run_db(poll_read, scan_id, page)
            future.set_result(read)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the other readers re-raise it themselves
            raise
        finally:
            del self._reads[key]
        if read is not None:
            last = read.snapshot["last_event_id"]
            known = self.snapshots.get(scan_id)
            if known is None or known["last_event_id"] <= last:
                self.snapshots[scan_id] = read.snapshot
                self.snapshots.move_to_end(scan_id)
                while len(self.snapshots) > MAX_SNAPSHOTS:
                    self.snapshots.popitem(last=False)
            channel = hub.remember_head(scan_id, read.org_id, last, read.terminal, generation)
            if channel is not None:
                channel.polled_at = time.monotonic()
        return read

    async def close(self) -> None:
        await self.limits.close()


def _page(query_string: bytes) -> tuple[int, int] | None:
    """``(after, limit)`` when the query is one the API reads the same way; else None."""
    try:
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    except ValueError:
        return None
    raw_after = query.get("after")
    after = 0
    if raw_after is not None:
        try:
            after = parse_cursor(raw_after)
        except InvalidCursor:
            return None
    raw_limit = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if not LIMIT.match(raw_limit):
            return None
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_LIMIT:
            return None
    return after, limit
