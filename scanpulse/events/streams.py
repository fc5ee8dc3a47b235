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
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from types import CoroutineType
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from scanpulse.core.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE
from scanpulse.scans.log import org_replay, scan_replay
from scanpulse.scans.resume import (
    InvalidCursor,
    LogHead,
    Resume,
    org_head,
    parse_cursor,
    resume_decision,
    scan_head,
)
from scanpulse.scans.snapshot import org_snapshot, scan_snapshot

from . import db, metrics
from .access import AccessMonitor, Principal, PrincipalCache
from .bus import get_bus
from .db import run_db
from .hub import Channel, Frame, Replay, StreamHub, Watcher, org_frame, scan_frame
from .slots import SlotsRebuilding, StreamSlots, make_slots
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


RESET_REASON = (
    "The requested position is not in the event log: older than the retention window, "
    "or never reached."
)


class StreamApp:
    def __init__(self, hub: StreamHub | None = None, slots: StreamSlots | None = None) -> None:
        self.hub = hub
        self.slots = slots
        self.principals = PrincipalCache()
        self.access: AccessMonitor | None = None
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._started:
            return
        if self.hub is None:
            self.hub = StreamHub(get_bus(), ring_size=settings.SCANPULSE_SSE_RING_SIZE)
        if self.slots is None:
            self.slots = make_slots()
        self.access = AccessMonitor(self.hub, self.principals)
        self.hub.on_revoke.append(self.principals.forget)
        self.hub.on_access.append(self.access.user_changed)
        self.hub.start()
        self.access.start()
        self._started = True

    async def shutdown(self) -> None:
        if self.access is not None:
            await self.access.stop()
        if self.hub is not None:
            await self.hub.stop()
        if self.slots is not None:
            await self.slots.close()
        await asyncio.to_thread(db.shutdown)
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
        except DATABASE_UNAVAILABLE as error:
            logger.error("stream refused, the database is unavailable: %s", error)
            await _send_error(send, _unavailable(UNAVAILABLE_MESSAGE))
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
        start_with_reset = False
        if head is not None:
            resume = resume_decision(cursor=position, head=head.log)
            if resume is Resume.DONE:
                return None
            start_with_reset = resume is Resume.RESET
        elif channel.terminal is not None and position >= channel.terminal:
            return None  # memory vouches for the cursor: it covers the terminal event

        async def reset() -> tuple[int, bytes, bool]:
            snapshot = await run_db(scan_snapshot, scan_id)
            if snapshot is None:
                raise StreamError(404, "not_found", "Scan not found.")
            frame = encode_json_event(snapshot, event="snapshot", id=str(snapshot["last_event_id"]))
            terminal = snapshot["status"] in ("completed", "failed", "cancelled")
            return snapshot["last_event_id"], frame, terminal

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
        if cursor < channel.purged_through:
            start_with_reset = True
        elif channel.last is not None and cursor <= channel.last:
            start_with_reset = False  # memory vouches for the cursor
        else:
            # Ahead of what this process has seen (or it has seen nothing): only the log
            # knows whether the number was handed out. One that was not would otherwise make
            # the stream skip the events that will get it.
            logged = await run_db(org_head, org_id)
            resume = resume_decision(cursor=cursor, head=logged or LogHead(0))
            start_with_reset = resume is Resume.RESET
        return StreamPlan(
            channel, org_id, cursor, _load_org, reset, start_with_reset=start_with_reset
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
        except SlotsRebuilding as rebuilding:
            # Redis lost the count (a restart): until every process has registered its
            # streams again, nobody can tell whether there is room.
            await _send_error(
                send,
                StreamError(
                    503,
                    "unavailable",
                    "Streaming is unavailable for a few seconds; poll instead.",
                    [(b"retry-after", str(rebuilding.retry_after).encode())],
                ),
            )
            return
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

        watcher = Watcher(principal.auth_key, plan.org_id, principal)
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
        assert self.hub is not None
        heartbeat = settings.SCANPULSE_SSE_HEARTBEAT_SECONDS
        lifetime = settings.SCANPULSE_SSE_MAX_LIFETIME_SECONDS * random.uniform(0.85, 1.0)  # noqa: S311
        started = time.monotonic()
        ends_at = started + lifetime
        if principal.expires_at is not None:
            ends_at = min(ends_at, started + max(0.0, principal.expires_at - time.time()))

        stream = _Stream(send, watcher, plan.cursor, settings.SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS)
        pending = _start(
            send({"type": "http.response.start", "status": 200, "headers": _stream_headers()})
        )
        if pending is not None:
            async with asyncio.timeout(stream.write_timeout):
                await pending
        # The retry hint rides on the first event: on its own it would form an empty block,
        # which some clients dispatch as a nameless event. A comment opens the stream at once.
        stream.retry = encode_retry_field(settings.SCANPULSE_SSE_RETRY_MS)
        await stream.write(CONNECTED)
        if plan.prelude:
            await stream.write_events(plan.prelude)

        if plan.start_with_reset:
            stream.cursor, done = await self._reset(plan, stream.write_events)
            if done:
                return
        stream.last_write = time.monotonic()
        channel = plan.channel
        loop = asyncio.get_running_loop()
        try:
            while watcher.closed_reason is None:
                watcher.woken = False
                await stream.finish_delivery()
                if watcher.notice:
                    await stream.write_notice()
                frames: list[Frame] | None = channel.frames_after(stream.cursor)
                live = frames is not None
                if frames is None:
                    replay = await self.hub.load(channel, stream.cursor, plan.loader)
                    if replay.purged:
                        stream.cursor, done = await self._reset(plan, stream.write_events)
                        if done:
                            return
                        continue
                    frames = replay.frames
                if frames:
                    await stream.write_events(b"".join(frame.data for frame in frames))
                    stream.last_write = time.monotonic()
                    stream.cursor = frames[-1].number
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
                wake_at = min(stream.last_write + heartbeat, ends_at)
                if watcher.woken:
                    continue  # something arrived while this pass was reading or writing
                if wake_at > now:
                    # One timer per stream, re-armed only when it fires: live events are
                    # written by the hub while the stream sleeps, and each would otherwise
                    # cost a timer and a wake-up just to move the heartbeat back.
                    if stream.timer is None:
                        stream.timer = loop.call_at(loop.time() + (wake_at - now), stream.on_timer)
                    watcher.waiter = loop.create_future()
                    watcher.deliver = stream.deliver_now
                    try:
                        await watcher.waiter
                    finally:
                        watcher.deliver = None
                        watcher.waiter = None
                    await stream.finish_delivery()
                if (
                    watcher.closed_reason is None
                    and time.monotonic() - stream.last_write >= heartbeat
                ):
                    await stream.write(HEARTBEAT)
                    stream.last_write = time.monotonic()
            if watcher.notice and watcher.closed_reason != "disconnected":
                await stream.write_notice()  # the last word: its scan was deleted
        finally:
            if stream.timer is not None:
                stream.timer.cancel()

    async def _reset(
        self, plan: StreamPlan, write: Callable[[bytes], Awaitable[None]]
    ) -> tuple[int, bool]:
        metrics.RESETS.inc()
        cursor, snapshot, terminal = await plan.reset()
        await write(_reset_frame(RESET_REASON) + snapshot)
        return cursor, terminal


CONNECTED = encode_comment("connected")
HEARTBEAT = encode_comment("heartbeat")


class _Stream:
    """What one open stream's task and the hub share.

    While the stream sleeps, the hub hands it each new live frame (``deliver_now``), which is
    written on the spot when it is the next one and the connection takes it without waiting:
    no wake-up, no timer, no allocation that outlives the event. Anything else — a gap, the
    terminal event, a write that has to wait for a slow client, a heartbeat, the end of the
    stream's lifetime — wakes the task, which handles it exactly as before.
    """

    __slots__ = (
        "cursor",
        "error",
        "last_write",
        "pending",
        "pending_frame",
        "retry",
        "send",
        "timer",
        "watcher",
        "write_timeout",
    )

    def __init__(self, send: Send, watcher: Watcher, cursor: int, write_timeout: float) -> None:
        self.send = send
        self.watcher = watcher
        self.cursor = cursor
        self.write_timeout = write_timeout
        self.retry = b""
        self.last_write = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.pending: _Continue | None = None  # a delivery waiting for the client to read
        self.pending_frame: Frame | None = None
        self.error: BaseException | None = None

    async def write(self, body: bytes) -> None:
        pending = _start(self.send({"type": "http.response.body", "body": body, "more_body": True}))
        if pending is not None:  # only a write that has to wait needs a deadline
            async with asyncio.timeout(self.write_timeout):
                await pending

    async def write_events(self, body: bytes) -> None:
        await self.write(self.retry + body)
        self.retry = b""

    async def write_notice(self) -> None:
        notice, self.watcher.notice = self.watcher.notice, b""
        await self.write_events(notice)
        self.last_write = time.monotonic()

    def deliver_now(self, frame: Frame) -> bool:
        """Write a live frame from the hub; False when the stream's task must handle it."""
        if (
            frame.number != self.cursor + 1
            or frame.terminal
            or self.pending is not None
            or self.error is not None
            or self.watcher.closed_reason is not None
        ):
            return False
        try:
            pending = _start(
                self.send(
                    {
                        "type": "http.response.body",
                        "body": self.retry + frame.data,
                        "more_body": True,
                    }
                )
            )
        except BaseException as exc:  # the task raises it, as if it had written
            self.error = exc
            return False
        self.retry = b""
        self.cursor = frame.number
        if pending is not None:
            self.pending, self.pending_frame = pending, frame
            return False
        self.last_write = time.monotonic()
        metrics.DELIVERIES.inc()
        metrics.LATENCY.observe(max(0.0, time.time() - frame.published))
        return True

    async def finish_delivery(self) -> None:
        """Raise what a delivery from the hub raised, or finish one that had to wait."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        pending, frame = self.pending, self.pending_frame
        if pending is None or frame is None:
            return
        async with asyncio.timeout(self.write_timeout):
            await pending
        self.pending = self.pending_frame = None
        self.last_write = time.monotonic()
        metrics.DELIVERIES.inc()
        metrics.LATENCY.observe(max(0.0, time.time() - frame.published))

    def on_timer(self) -> None:
        self.timer = None
        self.watcher.wake()


class _Continue:
    """Awaits the rest of a coroutine that ``_start`` ran up to its first suspension."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, None]:
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                yield yielded  # hand the awaited future to the task, as `await` would
            except BaseException as exc:  # cancellation, timeouts: thrown into the send
                try:
                    yielded = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    yielded = coro.send(None)
                except StopIteration:
                    return


def _start(awaitable: Awaitable[Any]) -> _Continue | None:
    """Run an ASGI ``send`` until it completes or has to wait.

    A server's send writes to its transport at once unless the client is not reading (flow
    control); only then does it suspend. Running it eagerly lets the common case skip the
    write deadline's timer; the rest of a suspended send is awaited under the deadline.
    """
    if not isinstance(awaitable, CoroutineType):  # (not the ABC: this runs per event)
        awaitable = _await(awaitable)
    try:
        yielded = awaitable.send(None)
    except StopIteration:
        return None
    return _Continue(awaitable, yielded)


async def _await(awaitable: Awaitable[Any]) -> None:
    await awaitable


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
    a reconnecting EventSource repeats its original URL and adds the header. An empty header
    carries no position (HTTP's optional whitespace around it is no part of it)."""
    raw: str | None = None
    header = headers.get(b"last-event-id", b"").strip(b" \t")
    if header:
        raw = header.decode("latin-1")
    else:
        values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get(
            "last_event_id"
        )
        if values:
            raw = values[0]
    if raw is None:
        return None
    try:
        return parse_cursor(raw)
    except InvalidCursor:
        raise StreamError(
            400,
            "invalid_cursor",
            "Last-Event-ID (or last_event_id) must be an event number: decimal digits 0-9.",
        ) from None


def _base_headers() -> list[tuple[bytes, bytes]]:
    # The security headers are added to every response by the ASGI entry point
    # (``scanpulse.core.middleware.security_headers``).
    return [(b"cache-control", b"no-cache")]


def _stream_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/event-stream"),
        (b"x-accel-buffering", b"no"),
        *_base_headers(),
    ]


def _unavailable(message: str) -> StreamError:
    return StreamError(
        503, "unavailable", message, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
    )


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
