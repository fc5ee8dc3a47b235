"""The stream hub: the one bus subscription of a web process, fanned out to its streams.

Each scan and each organization has a *channel* holding its most recent frames, already
encoded once for the wire, in a bounded ring. A stream is a cursor into one channel: when a
new frame arrives the hub offers it to the writer of a sleeping stream, or wakes the stream,
which sends every frame after its cursor (the writer alone moves the cursor: see
``scanpulse.events.writer``). A stream whose cursor is older than the ring (it fell behind,
or resumed from far back) reads the gap from the event log instead, so a slow stream never
loses events and never holds copies.
Log reads for the same range are shared between streams (one query for a thundering herd).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from scanpulse.scans.types import Event

from . import metrics
from .bus import EventBus
from .sse import dumps_payload, encode_event, encode_json_event
from .types import event_from_message

logger = logging.getLogger(__name__)

# Scans deleted lately, remembered so that their events still on the way are ignored.
MAX_DELETED = 10_000


@dataclass(frozen=True, slots=True)
class Frame:
    """One event encoded for one kind of stream, numbered by that stream's cursor."""

    number: int
    data: bytes
    terminal: bool
    published: float  # time.time() when it was appended to the log, for latency metrics


def scan_frame(event: Event, published: float) -> Frame:
    return Frame(
        event.seq,
        encode_json_event(event.client_payload(), event=event.kind, id=str(event.seq)),
        event.is_terminal,
        published,
    )


def org_frame(event: Event, published: float) -> Frame:
    return Frame(
        event.org_seq,
        encode_json_event(event.org_client_payload(), event=event.kind, id=str(event.org_seq)),
        False,
        published,
    )


@dataclass(slots=True)
class Replay:
    """Frames read from the log after a cursor; ``purged`` when retention removed them."""

    frames: list[Frame]
    purged: bool = False


class Watcher:
    """The hub's handle on one open stream.

    ``offer`` is set while the stream sleeps: the hub offers it each new frame of its
    channel, and wakes the stream only when it declines (see ``scanpulse.events.writer``).
    ``principal`` and ``org_id`` say with what access it was opened, for the checks of
    ``scanpulse.events.access``; ``notice`` holds frames without a number (a scan was deleted)
    that the stream writes before anything else.
    """

    __slots__ = (
        "auth_key",
        "closed_reason",
        "notice",
        "offer",
        "org_id",
        "principal",
        "waiter",
        "woken",
    )

    def __init__(self, auth_key: str, org_id: str | None = None, principal: Any = None) -> None:
        self.auth_key = auth_key
        self.org_id = org_id
        self.principal = principal
        self.notice = b""
        self.waiter: asyncio.Future[None] | None = None
        self.closed_reason: str | None = None
        self.offer: Callable[[Frame], bool] | None = None
        # Set by a wake-up that came while the stream was busy (reading the log, writing):
        # it must look again before it sleeps, or a frame that arrived meanwhile would wait
        # for the next heartbeat.
        self.woken = False

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is None:
            self.woken = True
        elif not waiter.done():
            waiter.set_result(None)

    def close(self, reason: str, notice: bytes = b"") -> None:
        self.closed_reason = reason
        self.notice += notice
        self.wake()

    def tell(self, notice: bytes) -> None:
        self.notice += notice
        self.wake()


def deleted_frame(scan_id: str) -> bytes:
    """What viewers of a deleted scan see last. No id: the scan's numbers are gone with it,
    and on an organization stream it is not one of the organization's events."""
    payload = {"scan": scan_id, "kind": "deleted", "data": {"message": "This scan was deleted."}}
    return encode_event(dumps_payload(payload), event="deleted")


@dataclass(slots=True)
class Channel:
    key: str
    org_id: str | None = None
    ring: deque[Frame] = field(default_factory=deque)
    last: int | None = None
    terminal: int | None = None
    purged_through: int = 0  # organization channels: numbers up to here left the log
    watchers: set[Watcher] = field(default_factory=set)
    polled_at: float = 0.0  # time.monotonic() of the last poll answered from this channel

    def frames_after(self, cursor: int) -> list[Frame] | None:
        """Frames numbered above ``cursor``, or None if the ring does not reach back that far."""
        if self.last is None or not self.ring:
            return None
        if cursor >= self.last:
            return []
        first = self.ring[0].number
        if cursor + 1 < first:
            return None
        return list(itertools.islice(self.ring, cursor + 1 - first, None))


ReplayLoader = Callable[[str, int], Awaitable[Replay]]


class StreamHub:
    def __init__(
        self,
        bus: EventBus,
        *,
        ring_size: int = 256,
        max_idle_channels: int = 4096,
    ) -> None:
        self.bus = bus
        self.ring_size = ring_size
        self.max_idle_channels = max_idle_channels
        self.scans: OrderedDict[str, Channel] = OrderedDict()
        self.orgs: OrderedDict[str, Channel] = OrderedDict()
        self.watchers_by_auth: dict[str, set[Watcher]] = {}
        self._loads: dict[tuple[str, int], asyncio.Future[Replay]] = {}
        self._task: asyncio.Task[None] | None = None
        self.on_revoke: list[Callable[[str], None]] = []
        self.on_access: list[Callable[[str], None]] = []  # called with a user id
        self._deleted: OrderedDict[str, None] = OrderedDict()
        # Bumped whenever memory may have missed events (``resync``): a head read from the
        # database before a bump may be older than the log and is not kept.
        self.generation = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.bus.listen(self.feed_message, self.resync), name="scanpulse-hub"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for watchers in list(self.watchers_by_auth.values()):
            for watcher in list(watchers):
                watcher.close("shutdown")

    # -- channels ----------------------------------------------------------------------------

    def channel(self, kind: str, key: str) -> Channel:
        table = self.scans if kind == "scan" else self.orgs
        channel = table.get(key)
        if channel is None:
            channel = table[key] = Channel(key)
            self._evict(table)
        else:
            table.move_to_end(key)
        return channel

    def _evict(self, table: OrderedDict[str, Channel]) -> None:
        excess = len(table) - self.max_idle_channels
        if excess <= 0:
            return
        for key in list(itertools.islice(table, excess * 2)):
            if excess <= 0:
                break
            if not table[key].watchers:
                del table[key]
                excess -= 1

    def watch(self, channel: Channel, watcher: Watcher) -> None:
        channel.watchers.add(watcher)
        self.watchers_by_auth.setdefault(watcher.auth_key, set()).add(watcher)
        metrics.OPEN_STREAMS.inc()
        if channel.key in self._deleted:  # deleted while the stream was being opened
            watcher.close("deleted", deleted_frame(channel.key))

    def unwatch(self, channel: Channel, watcher: Watcher) -> None:
        channel.watchers.discard(watcher)
        by_auth = self.watchers_by_auth.get(watcher.auth_key)
        if by_auth is not None:
            by_auth.discard(watcher)
            if not by_auth:
                del self.watchers_by_auth[watcher.auth_key]
        metrics.OPEN_STREAMS.dec()

    # -- feeding from the bus ----------------------------------------------------------------

    def feed_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "event":
            try:
                event = event_from_message(message)
            except (KeyError, TypeError, ValueError):
                logger.error("ignoring a malformed event message")
                return
            self.feed_event(event)
        elif kind == "revoke":
            self.close_auth(str(message.get("auth_key", "")), "revoked")
        elif kind == "access":
            user_id = str(message.get("user", ""))
            for callback in self.on_access:
                callback(user_id)
        elif kind == "scan_deleted":
            self.drop_scan(str(message.get("scan")), str(message.get("org")))
        elif kind == "purged":
            self.forget_purged(
                str(message.get("scan")), str(message.get("org")), message.get("through")
            )

    def feed_event(self, event: Event, published: float | None = None) -> None:
        if event.scan_id in self._deleted:
            return  # published before the deletion, arriving after it
        published = published if published is not None else _parse_time(event.time)
        scan = self.channel("scan", event.scan_id)
        scan.org_id = event.org_id
        self._append(scan, scan_frame(event, published))
        org = self.channel("org", event.org_id)
        org.org_id = event.org_id
        self._append(org, org_frame(event, published))

    def _append(self, channel: Channel, frame: Frame) -> None:
        if channel.last is not None and frame.number <= channel.last:
            return  # already held (a repair or a duplicate delivery)
        if channel.last is not None and frame.number != channel.last + 1:
            # A gap: keep only what is contiguous. Streams behind the new frame read the
            # missing part from the log, which already holds it (numbers follow commits).
            channel.ring.clear()
        channel.ring.append(frame)
        if len(channel.ring) > self.ring_size:
            channel.ring.popleft()
        channel.last = frame.number
        if frame.terminal:
            channel.terminal = frame.number
        for watcher in channel.watchers:
            offer = watcher.offer
            if offer is None or not offer(frame):
                watcher.wake()

    def resync(self) -> None:
        """Once the subscription is in place, and after every break, any channel may have
        missed messages: make every stream read the log from its cursor."""
        self.generation += 1
        for table in (self.scans, self.orgs):
            for channel in table.values():
                channel.ring.clear()
                channel.last = None
                for watcher in channel.watchers:
                    watcher.wake()

    def remember_head(
        self, scan_id: str, org_id: str, last: int, terminal: bool, generation: int
    ) -> Channel | None:
        """A scan's head as the database showed it, read while ``generation`` held: kept as
        the channel's newest number when memory has none (the polling routes then answer
        from memory until the next event, which the bus brings). Nothing is kept for a scan
        deleted meanwhile or when the subscription broke since the read."""
        if generation != self.generation or scan_id in self._deleted:
            return None
        channel = self.channel("scan", scan_id)
        channel.org_id = org_id
        if channel.last is None:
            channel.last = last
            if terminal:
                channel.terminal = last
        return channel

    def forget_purged(self, scan_id: str, org_id: str, through: Any) -> None:
        """Retention removed a scan's events: memory must not outlive the log, or resumes
        would depend on which process answers."""
        scan = self.scans.get(scan_id)
        if scan is not None and not scan.watchers:
            del self.scans[scan_id]
        org = self.orgs.get(org_id)
        if org is not None and isinstance(through, int):
            org.purged_through = max(org.purged_through, through)

    def drop_scan(self, scan_id: str, org_id: str) -> None:
        """A scan was deleted: its viewers get a last ``deleted`` event and their streams end,
        dashboards of its organization get the same event, and no ring keeps its frames - a
        later replay from memory would show what no longer exists."""
        self._deleted[scan_id] = None
        self._deleted.move_to_end(scan_id)
        while len(self._deleted) > MAX_DELETED:
            self._deleted.popitem(last=False)
        notice = deleted_frame(scan_id)
        scan = self.scans.pop(scan_id, None)
        if scan is not None:
            for watcher in list(scan.watchers):
                watcher.close("deleted", notice)
        org = self.orgs.get(org_id)
        if org is not None:
            # A ring must stay contiguous: it starts afresh instead of losing frames in the
            # middle. Streams behind the next frame read the log, which no longer has them.
            org.ring.clear()
            for watcher in org.watchers:
                watcher.tell(notice)

    def close_auth(self, auth_key: str, reason: str) -> None:
        for watcher in list(self.watchers_by_auth.get(auth_key, ())):
            watcher.close(reason)
        for callback in self.on_revoke:
            callback(auth_key)

    # -- reading the log ---------------------------------------------------------------------

    async def load(self, channel: Channel, cursor: int, loader: ReplayLoader) -> Replay:
        """Frames after ``cursor`` from the log; concurrent identical reads share one query."""
        key = (channel.key, cursor)
        pending = self._loads.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Replay] = asyncio.get_running_loop().create_future()
        self._loads[key] = future
        try:
            replay = await loader(channel.key, cursor)
            future.set_result(replay)
            metrics.REPLAYS.inc()
            return replay
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the other readers re-raise it themselves
            raise
        finally:
            del self._loads[key]


def _parse_time(value: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()
