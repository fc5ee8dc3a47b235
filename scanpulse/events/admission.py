"""Whether a stream may open, and from where: what the request asks for (a scan or an
organization, a resume position), whether the principal may see it, where the stream starts
(replay, reset, or nothing left to send), and whether its organization has a free slot.

Memory answers when it can vouch for a cursor; anything else is checked against the log with
the rule of ``scanpulse.events.cursors``, shared with polling.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from django.conf import settings

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
from scanpulse.scans.types import TERMINAL_KINDS

from . import metrics
from .db import run_db
from .hub import Channel, Replay, StreamHub, org_frame, scan_frame
from .principals import Principal
from .responses import StreamError
from .slots import SlotsRebuilding, StreamSlots
from .sse import encode_json_event

logger = logging.getLogger(__name__)


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


# -- what the request asks for ----------------------------------------------------------------


def request_cursor(headers: dict[bytes, bytes], query_string: bytes) -> int | None:
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


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise StreamError(404, "not_found", "Not found.") from None


# -- where the stream starts ------------------------------------------------------------------


async def _load_scan(key: str, after: int) -> Replay:
    replay = await run_db(scan_replay, key, after)
    now = time.time()
    return Replay([scan_frame(event, now) for event in replay.events], replay.purged)


async def _load_org(key: str, after: int) -> Replay:
    replay = await run_db(org_replay, key, after)
    now = time.time()
    return Replay([org_frame(event, now) for event in replay.events], replay.purged)


async def plan_scan(
    hub: StreamHub, principal: Principal, raw_id: str, cursor: int | None
) -> StreamPlan | None:
    """One scan's stream; None when the cursor covers the scan's terminal event."""
    scan_id = _uuid(raw_id)
    position = cursor or 0
    channel = hub.scans.get(scan_id)
    head = None
    # Memory answers only for a cursor inside what this process has seen; anything else
    # (unknown scan, or a cursor ahead of memory: maybe bogus) is checked against the log.
    if channel is None or channel.org_id is None or channel.last is None or position > channel.last:
        head = await run_db(scan_head, scan_id)
        if head is None:
            raise StreamError(404, "not_found", "Scan not found.")
        channel = hub.channel("scan", scan_id)
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
        terminal = snapshot["status"] in TERMINAL_KINDS
        return snapshot["last_event_id"], frame, terminal

    return StreamPlan(channel, org_id, position, _load_scan, reset, start_with_reset)


async def plan_org(
    hub: StreamHub, principal: Principal, requested: str | None, cursor: int | None
) -> StreamPlan:
    """Every scan of one organization: the one asked for, or the principal's only one."""
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
    channel = hub.channel("org", org_id)
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
    return StreamPlan(channel, org_id, cursor, _load_org, reset, start_with_reset=start_with_reset)


# -- room for one more ------------------------------------------------------------------------


async def take_slot(slots: StreamSlots, org_id: str, stream_id: str) -> None:
    """Count the stream against its organization's limit, or refuse it."""
    try:
        granted = await slots.acquire(org_id, stream_id, settings.SCANPULSE_STREAMS_PER_ORG)
    except SlotsRebuilding as rebuilding:
        # Redis lost the count (a restart): until every process has registered its
        # streams again, nobody can tell whether there is room.
        raise StreamError(
            503,
            "unavailable",
            "Streaming is unavailable for a few seconds; poll instead.",
            [(b"retry-after", str(rebuilding.retry_after).encode())],
        ) from None
    except Exception:
        logger.exception("stream slot check failed")
        raise StreamError(
            503,
            "unavailable",
            "Streaming is unavailable; poll instead.",
            [(b"retry-after", b"5")],
        ) from None
    if not granted:
        metrics.REJECTED.inc()
        retry_after = str(random.randint(5, 15)).encode()  # noqa: S311 - jitter, not security
        raise StreamError(
            429,
            "too_many_streams",
            "Your organization has too many open streams; poll, or retry later.",
            [(b"retry-after", retry_after)],
        )
