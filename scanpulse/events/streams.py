"""The server-sent event endpoints, as a plain ASGI application: routing, authentication and
the lifetime of the process's hub, slots and access checks.

``GET /api/scans/{id}/progress`` streams one scan; ``GET /api/stream`` streams every scan of
an organization. They live outside Django's request handling on purpose: Django's sync
middleware and request signals pin one thread per open response, which does not scale to
thousands of streams. Everything else a stream needs (auth, tenancy, the log) is the same
code the rest of the application uses, reached through a small thread pool only on a miss.

A request goes through ``scanpulse.events.admission`` (may it open, and from where), then
``scanpulse.events.loop`` (the open stream), which writes through ``scanpulse.events.writer``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from scanpulse.core.asgi import NO_CACHE, Receive, Scope, Send
from scanpulse.core.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE

from . import db, metrics
from .access import AccessMonitor, PrincipalCache
from .admission import StreamPlan, plan_org, plan_scan, request_cursor, take_slot
from .bus import get_bus
from .hub import StreamHub, Watcher
from .loop import run_stream
from .principals import Principal
from .responses import StreamError, send_error
from .slots import StreamSlots, make_slots

logger = logging.getLogger(__name__)

SCAN_STREAM = re.compile(r"^/api/scans/(?P<scan>[^/]+)/progress/?$")
ORG_STREAM = re.compile(r"^/api/stream/?$")


def matches(path: str) -> bool:
    return bool(SCAN_STREAM.match(path) or ORG_STREAM.match(path))


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
        assert self.hub is not None
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
            cursor = request_cursor(headers, scope.get("query_string", b""))
            match = SCAN_STREAM.match(scope["path"])
            if match:
                plan = await plan_scan(self.hub, principal, match.group("scan"), cursor)
            else:
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                requested = query.get("organization", [None])[0]
                plan = await plan_org(self.hub, principal, requested, cursor)
        except StreamError as error:
            await send_error(send, error)
            return
        except DATABASE_UNAVAILABLE as error:
            logger.error("stream refused, the database is unavailable: %s", error)
            retry_after = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
            await send_error(
                send, StreamError(503, "unavailable", UNAVAILABLE_MESSAGE, retry_after)
            )
            return
        if plan is None:  # nothing left to send: "stop reconnecting"
            await send({"type": "http.response.start", "status": 204, "headers": [NO_CACHE]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self._serve(plan, principal, receive, send)

    async def _serve(
        self, plan: StreamPlan, principal: Principal, receive: Receive, send: Send
    ) -> None:
        assert self.hub is not None and self.slots is not None
        stream_id = uuid.uuid4().hex
        try:
            await take_slot(self.slots, plan.org_id, stream_id)
        except StreamError as error:
            await send_error(send, error)
            return

        watcher = Watcher(principal.auth_key, plan.org_id, principal)
        self.hub.watch(plan.channel, watcher)
        receiver = _Disconnects(receive, watcher)
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

    def _stream(
        self, plan: StreamPlan, principal: Principal, watcher: Watcher, send: Send
    ) -> Coroutine[Any, Any, None]:
        """The stream's coroutine, returned rather than awaited here: an open stream keeps no
        frame of this method (about 0.5 KB each, at tens of thousands of streams)."""
        assert self.hub is not None
        return run_stream(self.hub, plan, principal, watcher, send)


class _Disconnects:
    """Closes a stream's watcher when its client goes away (or ``receive`` fails): one
    ``receive()`` at a time, each a task of its own that starts the next from its done
    callback. No coroutine waits in a loop for it, so an open stream keeps no such frame
    (about 0.5 KB each, at tens of thousands of streams)."""

    __slots__ = ("receive", "task", "watcher")

    def __init__(self, receive: Receive, watcher: Watcher) -> None:
        self.receive = receive
        self.watcher = watcher
        self.task: asyncio.Future[Any] | None = None
        self._next()

    def _next(self) -> None:
        self.task = asyncio.ensure_future(self.receive())
        self.task.add_done_callback(self._received)

    def _received(self, task: asyncio.Future[Any]) -> None:
        if (
            not task.cancelled()
            and task.exception() is None
            and task.result()["type"] != "http.disconnect"
        ):
            self._next()  # the request's own body, or anything else but the end
            return
        self.watcher.close("disconnected")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
