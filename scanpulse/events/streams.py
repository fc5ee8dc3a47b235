"""The server-sent event endpoints, as a plain ASGI application.

``GET /api/scans/{id}/progress`` streams one scan; ``GET /api/stream`` streams every scan of
an organization. They live outside Django's request handling on purpose: Django's sync
middleware and request signals pin one thread per open response, which does not scale to
thousands of streams. Everything else a stream needs (auth, tenancy, the log) is the same
code the rest of the application uses, reached through a small thread pool only on a miss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from . import metrics
from .access import Principal, PrincipalCache
from .bus import get_bus
from .db import run_db
from .hub import Channel, Frame, Replay, StreamHub, Watcher, org_frame, scan_frame
from .selectors import org_replay, org_snapshot, scan_head, scan_replay, scan_snapshot
from .slots import StreamSlots, make_slots
from .sse import (
    dumps_payload,
    encode_comment,
    encode_event,
    encode_json_event,
    encode_retry_field,
)

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SCAN_STREAM = re.compile(r"^/api/scans/(?P<scan>[^/]+)/progress/?$")
ORG_STREAM = re.compile(r"^/api/stream/?$")
MAX_CURSOR = 2**62


def matches(path: str) -> bool:
    return bool(SCAN_STREAM.match(path) or ORG_STREAM.match(path))


class StreamError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass(slots=True)
class StreamPlan:
    """What an accepted stream will do: which channel, from where, how to read the log."""

    channel: Channel
    org_id: str
    cursor: int
    loader: Callable[[str, int], Awaitable[Replay]]
    reset: Callable[[], Awaitable[tuple[int, bytes, bool]]]
    start_with_reset: bool = False
    prelude: bytes = b""


async def _load_scan(key: str, after: int) -> Replay:
    replay = await run_db(scan_replay, key, after)
    now = time.time()
    return Replay([scan_frame(event, now) for event in replay.events], replay.purged)


async def _load_org(key: str, after: int) -> Replay:
    replay = await run_db(org_replay, key, after)
    now = time.time()
    return Replay([org_frame(event, now) for event in replay.events], replay.purged)


def _reset_frame(reason: str) -> bytes:
    # No id: the snapshot that follows carries the new position.
    return encode_event(dumps_payload({"reason": reason}), event="reset")


RESET_REASON = "The requested position is older than the event retention window."


class StreamApp:
    def __init__(self, hub: StreamHub | None = None, slots: StreamSlots | None = None) -> None:
        self.hub = hub
        self.slots = slots
        self.principals = PrincipalCache()
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._started:
            return
        if self.hub is None:
            self.hub = StreamHub(get_bus(), ring_size=settings.SCANPULSE_SSE_RING_SIZE)
        if self.slots is None:
            self.slots = make_slots()
        self.hub.on_revoke.append(self.principals.forget)
        self.hub.start()
        self._started = True

    async def shutdown(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
        if self.slots is not None:
            await self.slots.close()
        self._started = False

    # -- requests ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.ensure_started()
        try:
            if scope["method"] != "GET":
                raise StreamError(405, "method_not_allowed", "Use GET.", [(b"allow", b"GET")])
            headers = {name.lower(): value for name, value in scope["headers"]}
            principal = await self.principals.resolve(headers)
            if principal is None:
                raise StreamError(
                    401,
                    "not_authenticated",
                    "Authentication credentials were not provided or are not valid.",
                    [(b"www-authenticate", b'Bearer realm="scanpulse"')],
                )
            cursor = _cursor(headers, scope.get("query_string", b""))
            match = SCAN_STREAM.match(scope["path"])
            if match:
                plan = await self._plan_scan(principal, match.group("scan"), cursor)
            else:
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                plan = await self._plan_org(principal, query.get("organization", [None])[0], cursor)
        except StreamError as error:
            await _send_error(send, error)
            return
        if plan is None:  # nothing left to send: "stop reconnecting"
            await send({"type": "http.response.start", "status": 204, "headers": _base_headers()})
            await send({"type": "http.response.body", "body": b""})
            return
        await self._serve(plan, principal, receive, send)

    async def _plan_scan(
        self, principal: Principal, raw_id: str, cursor: int | None
    ) -> StreamPlan | None:
        assert self.hub is not None
        scan_id = _uuid(raw_id)
        position = cursor or 0
        channel = self.hub.scans.get(scan_id)
        head = None
        # Memory answers only for a cursor inside what this process has seen; anything else
        # (unknown scan, or a cursor ahead of memory: maybe bogus) is checked against the log.
        if (
            channel is None
            or channel.org_id is None
            or channel.last is None
            or position > channel.last
        ):
            head = await run_db(scan_head, scan_id)
            if head is None:
                raise StreamError(404, "not_found", "Scan not found.")
            channel = self.hub.channel("scan", scan_id)
            channel.org_id = head.org_id
        org_id = channel.org_id
        assert org_id is not None
        if org_id not in principal.org_ids:
            raise StreamError(404, "not_found", "Scan not found.")
        if channel.terminal is not None and position >= channel.terminal:
            return None
        if head is not None and head.terminal and position >= head.last_seq:
            return None

        async def reset() -> tuple[int, bytes, bool]:
            snapshot = await run_db(scan_snapshot, scan_id)
            if snapshot is None:
                raise StreamError(404, "not_found", "Scan not found.")
            frame = encode_json_event(snapshot, event="snapshot", id=str(snapshot["last_event_id"]))
            terminal = snapshot["status"] in ("completed", "failed", "cancelled")
            return snapshot["last_event_id"], frame, terminal

        start_with_reset = head is not None and (
            (head.purged and position < head.last_seq) or position > head.last_seq
        )
        return StreamPlan(channel, org_id, position, _load_scan, reset, start_with_reset)

    async def _plan_org(
        self, principal: Principal, requested: str | None, cursor: int | None
    ) -> StreamPlan:
        assert self.hub is not None
        if requested is not None:
            org_id = _uuid(requested)
            if org_id not in principal.org_ids:
                raise StreamError(404, "not_found", "Organization not found.")
        elif len(principal.org_ids) == 1:
            (org_id,) = principal.org_ids
        else:
            raise StreamError(
                400,
                "organization_required",
                "You belong to several organizations (or none): pass ?organization=<id>.",
            )
        channel = self.hub.channel("org", org_id)
        channel.org_id = org_id

        async def reset() -> tuple[int, bytes, bool]:
            head, snapshot = await run_db(org_snapshot, org_id)
            return head, encode_json_event(snapshot, event="snapshot", id=str(head)), False

        if cursor is None:
            # A first connection starts now, with the state of every active scan.
            head, frame, _ = await reset()
            return StreamPlan(channel, org_id, head, _load_org, reset, prelude=frame)
        return StreamPlan(
            channel,
            org_id,
            cursor,
            _load_org,
            reset,
            start_with_reset=cursor < channel.purged_through,
        )

    # -- the stream --------------------------------------------------------------------------

    async def _serve(
        self, plan: StreamPlan, principal: Principal, receive: Receive, send: Send
    ) -> None:
        assert self.hub is not None and self.slots is not None
        stream_id = uuid.uuid4().hex
        try:
            granted = await self.slots.acquire(
                plan.org_id, stream_id, settings.SCANPULSE_STREAMS_PER_ORG
            )
        except Exception:
            logger.exception("stream slot check failed")
            await _send_error(
                send,
                StreamError(
                    503,
                    "unavailable",
                    "Streaming is unavailable; poll instead.",
                    [(b"retry-after", b"5")],
                ),
            )
            return
        if not granted:
            metrics.REJECTED.inc()
            retry_after = str(random.randint(5, 15)).encode()  # noqa: S311 - jitter, not security
            await _send_error(
                send,
                StreamError(
                    429,
                    "too_many_streams",
                    "Your organization has too many open streams; poll, or retry later.",
                    [(b"retry-after", retry_after)],
                ),
            )
            return

        watcher = Watcher(principal.auth_key)
        self.hub.watch(plan.channel, watcher)
        receiver = asyncio.get_running_loop().create_task(_wait_disconnect(receive))
        receiver.add_done_callback(lambda _task: watcher.close("disconnected"))
        try:
            await self._stream(plan, principal, watcher, send)
            if watcher.closed_reason != "disconnected":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            metrics.DROPPED_SLOW.inc()
            logger.info("dropped a stream whose client stopped reading")
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            receiver.cancel()
            self.hub.unwatch(plan.channel, watcher)
            await self.slots.release(plan.org_id, stream_id)

    async def _stream(
        self, plan: StreamPlan, principal: Principal, watcher: Watcher, send: Send
    ) -> None:
        write_timeout = settings.SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS
        heartbeat = settings.SCANPULSE_SSE_HEARTBEAT_SECONDS
        lifetime = settings.SCANPULSE_SSE_MAX_LIFETIME_SECONDS * random.uniform(0.85, 1.0)  # noqa: S311
        started = time.monotonic()
        ends_at = started + lifetime
        if principal.expires_at is not None:
            ends_at = min(ends_at, started + max(0.0, principal.expires_at - time.time()))

        async def write(body: bytes) -> None:
            async with asyncio.timeout(write_timeout):
                await send({"type": "http.response.body", "body": body, "more_body": True})

        async with asyncio.timeout(write_timeout):
            await send({"type": "http.response.start", "status": 200, "headers": _stream_headers()})
        # The retry hint rides on the first event: on its own it would form an empty block,
        # which some clients dispatch as a nameless event. A comment opens the stream at once.
        retry = encode_retry_field(settings.SCANPULSE_SSE_RETRY_MS)

        async def write_events(body: bytes) -> None:
            nonlocal retry
            await write(retry + body)
            retry = b""

        await write(encode_comment("connected"))
        if plan.prelude:
            await write_events(plan.prelude)

        cursor = plan.cursor
        loop = asyncio.get_running_loop()
        if plan.start_with_reset:
            cursor, done = await self._reset(plan, write_events)
            if done:
                return
        last_write = time.monotonic()
        channel = plan.channel
        while watcher.closed_reason is None:
            frames: list[Frame] | None = channel.frames_after(cursor)
            live = frames is not None
            if frames is None:
                replay = await self.hub.load(channel, cursor, plan.loader)  # type: ignore[union-attr]
                if replay.purged:
                    cursor, done = await self._reset(plan, write_events)
                    if done:
                        return
                    continue
                frames = replay.frames
            if frames:
                await write_events(b"".join(frame.data for frame in frames))
                last_write = time.monotonic()
                cursor = frames[-1].number
                metrics.DELIVERIES.inc(len(frames))
                if live:
                    now = time.time()
                    for frame in frames:
                        metrics.LATENCY.observe(max(0.0, now - frame.published))
                if frames[-1].terminal:
                    return
                continue
            now = time.monotonic()
            if now >= ends_at:
                return
            wake_at = min(last_write + heartbeat, ends_at)
            if wake_at > now:
                watcher.waiter = loop.create_future()
                timer = loop.call_at(loop.time() + (wake_at - now), watcher.wake)
                try:
                    await watcher.waiter
                finally:
                    timer.cancel()
                    watcher.waiter = None
            if watcher.closed_reason is None and time.monotonic() - last_write >= heartbeat:
                await write(encode_comment("heartbeat"))
                last_write = time.monotonic()

    async def _reset(
        self, plan: StreamPlan, write: Callable[[bytes], Awaitable[None]]
    ) -> tuple[int, bool]:
        metrics.RESETS.inc()
        cursor, snapshot, terminal = await plan.reset()
        await write(_reset_frame(RESET_REASON) + snapshot)
        return cursor, terminal


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise StreamError(404, "not_found", "Not found.") from None


def _cursor(headers: dict[bytes, bytes], query_string: bytes) -> int | None:
    """The resume position: the ``Last-Event-ID`` header wins over ``?last_event_id=`` because
    a reconnecting EventSource repeats its original URL and adds the header."""
    raw: str | None = None
    header = headers.get(b"last-event-id")
    if header is not None and header.strip():
        raw = header.decode("latin-1").strip()
    else:
        values = parse_qs(query_string.decode("latin-1")).get("last_event_id")
        if values and values[0].strip():
            raw = values[0].strip()
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18 or int(raw) > MAX_CURSOR:
        raise StreamError(
            400, "invalid_cursor", "Last-Event-ID must be a non-negative integer event number."
        )
    return int(raw)


def _base_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"cache-control", b"no-cache"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]


def _stream_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/event-stream"),
        (b"x-accel-buffering", b"no"),
        *_base_headers(),
    ]


async def _send_error(send: Send, error: StreamError) -> None:
    body = json.dumps(
        {"error": {"code": error.code, "message": error.message, "fields": {}}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *_base_headers(),
                *error.headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
