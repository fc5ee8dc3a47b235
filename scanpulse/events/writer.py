"""Writing one open stream to its client: the one route by which events reach it.

A stream's cursor is the number of the last event its client was sent. It moves here and
nowhere else, once a write has gone through, and each delivery is counted here, once: the
stream's task hands the writer what it read from its channel's ring or from the log
(``write_frames``, ``write_reset``), and the hub offers it each live frame while the task
sleeps (``offer``). Both end in ``_delivered``. Neither the hub nor the loop touch the cursor.

Why the hub may offer frames at all, rather than only waking the task to read them: most
events reach streams that are asleep, each the next one, for a client that is reading. The
offer writes such a frame on the spot: no wake-up, no timer, no allocation that outlives the
event, which is most of the cost of 10,000 deliveries a second (``docs/benchmarks.md``).
Anything else — a gap, the terminal event, a write that has to wait for a slow client, a
heartbeat, the end of the stream's lifetime — is declined and wakes the task
(``scanpulse.events.loop``), which reads what it needs and hands it to the same writer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Coroutine, Generator, Sequence
from types import CoroutineType
from typing import Any

from scanpulse.core.asgi import NO_CACHE, Send

from . import metrics
from .hub import Frame, Watcher

STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"x-accel-buffering", b"no"),
    NO_CACHE,
]


class StreamWriter:
    """What one open stream's task and the hub share: the connection, its write deadline and
    the stream's cursor."""

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
        self.retry = b""  # the reconnection hint, sent in front of the first event
        self.last_write = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.pending: _Continue | None = None  # an offered frame waiting for the client to read
        self.pending_frame: Frame | None = None
        self.error: BaseException | None = None

    async def start(self, retry: bytes) -> None:
        """Send the response's head; ``retry`` rides on the first event (on its own it would
        form an empty block, which some clients dispatch as a nameless event)."""
        pending = _start(
            self.send(
                {"type": "http.response.start", "status": 200, "headers": list(STREAM_HEADERS)}
            )
        )
        if pending is not None:
            async with asyncio.timeout(self.write_timeout):
                await pending
        self.retry = retry

    async def write(self, body: bytes) -> None:
        """Bytes that are no event: comments (the opening one, heartbeats)."""
        pending = _start(self.send({"type": "http.response.body", "body": body, "more_body": True}))
        if pending is not None:  # only a write that has to wait needs a deadline
            async with asyncio.timeout(self.write_timeout):
                await pending

    async def write_events(self, body: bytes) -> None:
        """Events without a number (a snapshot's prelude, notices), after the retry hint."""
        await self.write(self.retry + body)
        self.retry = b""

    async def write_notice(self) -> None:
        notice, self.watcher.notice = self.watcher.notice, b""
        await self.write_events(notice)
        self.last_write = time.monotonic()

    async def write_reset(self, body: bytes, cursor: int) -> None:
        """A reset and the snapshot that replaces what came before: the stream goes on from
        the snapshot's position."""
        await self.write_events(body)
        self.cursor = cursor

    async def write_frames(self, frames: Sequence[Frame], *, live: bool) -> None:
        """Frames the task read after the cursor: from the ring (``live``) or from the log."""
        await self.write_events(b"".join(frame.data for frame in frames))
        self._delivered(frames, live)

    def offer(self, frame: Frame) -> bool:
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
        if pending is not None:
            # The client is not reading: the task finishes the write under the deadline.
            self.pending, self.pending_frame = pending, frame
            return False
        self._delivered((frame,), True)
        return True

    async def finish_delivery(self) -> None:
        """Raise what an offered write raised, or finish one that had to wait."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        pending, frame = self.pending, self.pending_frame
        if pending is None or frame is None:
            return
        async with asyncio.timeout(self.write_timeout):
            await pending
        self.pending = self.pending_frame = None
        self._delivered((frame,), True)

    def _delivered(self, frames: Sequence[Frame], live: bool) -> None:
        """The client was sent ``frames``: move the cursor and count them (latency only for
        live frames; frames read back from the log were published long ago)."""
        self.cursor = frames[-1].number
        self.last_write = time.monotonic()
        metrics.DELIVERIES.inc(len(frames))
        if live:
            now = time.time()
            for frame in frames:
                metrics.LATENCY.observe(max(0.0, now - frame.published))

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
