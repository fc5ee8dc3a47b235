"""The life of one open stream, once admitted: it sends what follows its cursor, from its
channel's ring when the ring reaches back that far and from the log otherwise, resets when
the log no longer has it, beats while nothing happens, and ends with the scan, with its
lifetime (or its session), or when its watcher is closed.

Every write goes through the stream's ``StreamWriter`` (``scanpulse.events.writer``), which
alone moves the cursor; while the stream sleeps the hub offers live frames to that writer
directly, and wakes the stream only for what the writer declines.
"""

from __future__ import annotations

import asyncio
import random
import time

from django.conf import settings

from scanpulse.core.asgi import Send

from . import metrics
from .admission import StreamPlan
from .hub import Frame, StreamHub, Watcher
from .principals import Principal
from .sse import dumps_payload, encode_comment, encode_event, encode_retry_field
from .writer import StreamWriter

CONNECTED = encode_comment("connected")
HEARTBEAT = encode_comment("heartbeat")

RESET_REASON = (
    "The requested position is not in the event log: older than the retention window, "
    "or never reached."
)


def reset_frame(reason: str) -> bytes:
    # No id: the snapshot that follows carries the new position.
    return encode_event(dumps_payload({"reason": reason}), event="reset")


async def run_stream(
    hub: StreamHub, plan: StreamPlan, principal: Principal, watcher: Watcher, send: Send
) -> None:
    """Serve an admitted stream until it ends; the response is started here, not finished."""
    heartbeat = settings.SCANPULSE_SSE_HEARTBEAT_SECONDS
    lifetime = settings.SCANPULSE_SSE_MAX_LIFETIME_SECONDS * random.uniform(0.85, 1.0)  # noqa: S311
    started = time.monotonic()
    ends_at = started + lifetime
    if principal.expires_at is not None:
        ends_at = min(ends_at, started + max(0.0, principal.expires_at - time.time()))

    writer = StreamWriter(send, watcher, plan.cursor, settings.SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS)
    await writer.start(encode_retry_field(settings.SCANPULSE_SSE_RETRY_MS))
    await writer.write(CONNECTED)  # a comment opens the stream at once
    if plan.prelude:
        await writer.write_events(plan.prelude)

    if plan.start_with_reset and await _reset(plan, writer):
        return
    writer.last_write = time.monotonic()
    channel = plan.channel
    loop = asyncio.get_running_loop()
    try:
        while watcher.closed_reason is None:
            watcher.woken = False
            await writer.finish_delivery()
            if watcher.notice:
                await writer.write_notice()
            frames: list[Frame] | None = channel.frames_after(writer.cursor)
            live = frames is not None
            if frames is None:
                replay = await hub.load(channel, writer.cursor, plan.loader)
                if replay.purged:
                    if await _reset(plan, writer):
                        return
                    continue
                frames = replay.frames
            if frames:
                await writer.write_frames(frames, live=live)
                # A finished scan's log may go on past its terminal event (an advisory
                # update matched its inventory): the stream ends once it wrote the end.
                if any(frame.terminal for frame in frames):
                    return
                continue
            now = time.monotonic()
            if now >= ends_at:
                return
            wake_at = min(writer.last_write + heartbeat, ends_at)
            if watcher.woken:
                continue  # something arrived while this pass was reading or writing
            if wake_at > now:
                # One timer per stream, re-armed only when it fires: live events are
                # written by the hub while the stream sleeps, and each would otherwise
                # cost a timer and a wake-up just to move the heartbeat back.
                if writer.timer is None:
                    writer.timer = loop.call_at(loop.time() + (wake_at - now), writer.on_timer)
                watcher.waiter = loop.create_future()
                watcher.offer = writer.offer
                try:
                    await watcher.waiter
                finally:
                    watcher.offer = None
                    watcher.waiter = None
                await writer.finish_delivery()
            if watcher.closed_reason is None and time.monotonic() - writer.last_write >= heartbeat:
                await writer.write(HEARTBEAT)
                writer.last_write = time.monotonic()
        if watcher.notice and watcher.closed_reason != "disconnected":
            await writer.write_notice()  # the last word: its scan was deleted
    finally:
        if writer.timer is not None:
            writer.timer.cancel()


async def _reset(plan: StreamPlan, writer: StreamWriter) -> bool:
    """Send a reset and the current snapshot; True when the snapshot is of a finished scan."""
    metrics.RESETS.inc()
    cursor, snapshot, terminal = await plan.reset()
    await writer.write_reset(reset_frame(RESET_REASON) + snapshot, cursor)
    return terminal
