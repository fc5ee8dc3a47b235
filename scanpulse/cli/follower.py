"""Following a scan's event log: every event once, in order, whatever the connection does.

Streaming is the fast path and polling the safety net. Both carry the same numbered events
(``docs/api.md``), so the follower keeps one number — the last event it showed — and
whichever way the next events arrive, however often a connection drops or the server closes
a stream, it shows everything after that number exactly once and in order.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, SSEError, connect_sse

from .api import CONNECT_TIMEOUT, PAGE_SIZE, Api, ApiProblem
from .display import Display
from .results import EXIT_UNREACHABLE, CliError, ScanUpdate

# A healthy stream carries a heartbeat at least every 15 s; silence this long means it is dead.
STREAM_READ_TIMEOUT = 45.0
POLL_SECONDS = 1.0
# Streams that fail this many times in a row make the follower poll for a while instead.
STREAM_FAILURES_BEFORE_POLLING = 3
POLLING_PERIOD = 30.0
# A stream this short that carried no event counts as a failure, not as a lifetime close.
HEALTHY_STREAM_SECONDS = 0.5
MAX_BACKOFF = 10.0
# The server may be restarting: keep trying this long before giving up with exit code 4.
UNREACHABLE_AFTER = 60.0


class DeadlinePassed(Exception):
    """The follower was given until a time, and the scan had not ended by then."""


class Follower:
    """Shows a scan's events from ``after`` on, over SSE when it can and by polling when it
    must, until the terminal event (or a deadline)."""

    def __init__(
        self,
        api: Api,
        scan_id: str,
        display: Display,
        *,
        after: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.scan_id = scan_id
        self.display = display
        self.last = after
        self.done = False
        self.sleep = sleep
        self._retry_seconds = 1.0
        self._failures = 0
        self._stream_again_at = 0.0  # monotonic time; until then, poll
        self._unreachable_since: float | None = None

    def run(self, *, deadline: float | None = None) -> None:
        while not self.done:
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlinePassed
            if time.monotonic() >= self._stream_again_at:
                self._stream_once()
            else:
                self._poll_once()

    # -- streaming ----------------------------------------------------------------------------

    def _stream_once(self) -> None:
        headers = {"Last-Event-ID": str(self.last)} if self.last else {}
        opened = time.monotonic()
        connected = False
        delivered = 0
        try:
            with connect_sse(
                self.api.client,
                "GET",
                f"/api/scans/{self.scan_id}/progress",
                headers=headers,
                timeout=httpx.Timeout(CONNECT_TIMEOUT, read=STREAM_READ_TIMEOUT),
            ) as source:
                response = source.response
                if response.status_code == 204:  # our cursor covers the terminal event
                    self.done = True
                    return
                if response.status_code in (429, 503):
                    response.read()
                    self._poll_for(_retry_after(response), f"HTTP {response.status_code}")
                    return
                if response.status_code == 404:
                    raise CliError(f"There is no scan {self.scan_id} on {self.api.server}.")
                self.api.check(response)
                connected = True
                self._reachable()
                for sse in source.iter_sse():
                    if sse.retry is not None:
                        self._retry_seconds = max(0.1, sse.retry / 1000)
                    if self._handle(sse):
                        delivered += 1
                    if self.done:
                        return
        except ApiProblem as problem:
            self._stream_failed(str(problem))
            return
        except (httpx.TransportError, SSEError, ValueError, KeyError) as exc:
            # ValueError/KeyError: a frame that is not the JSON event it should be.
            if connected and self._was_useful(opened, delivered):
                return  # dropped after doing its job (a proxy, a restart): resume at once
            self._stream_failed(str(exc) or type(exc).__name__, transport=exc)
            return
        # The server ended the stream (its lifetime limit): resume where we are.
        if not self._was_useful(opened, delivered):
            self._stream_failed("the stream closed without events")

    def _was_useful(self, opened: float, delivered: int) -> bool:
        """A stream that carried events or lasted is not a failure, however it ended; one
        that closes at once, every time, is — and after a few of those, polling takes over."""
        if delivered or time.monotonic() - opened >= HEALTHY_STREAM_SECONDS:
            self._failures = 0
            return True
        return False

    def _handle(self, sse: ServerSentEvent) -> bool:
        """Process one frame; True when it carried an event."""
        if not sse.data:
            return False  # the retry hint, or an empty frame
        if sse.event == "reset":
            self.display.note(f"The server no longer has the events after {self.last}.")
            return False
        payload = json.loads(sse.data)
        if sse.event == "snapshot":
            self._snapshot(payload)
            return True
        if "seq" not in payload and sse.id.isdigit():
            payload["seq"] = int(sse.id)
        self._accept(ScanUpdate.from_payload(payload))
        return True

    def _stream_failed(self, reason: str, transport: Exception | None = None) -> None:
        if isinstance(transport, httpx.ConnectError | httpx.ConnectTimeout):
            self._unreachable(transport)
        self._failures += 1
        if self._failures >= STREAM_FAILURES_BEFORE_POLLING:
            self._failures = 0
            self._poll_for(POLLING_PERIOD, f"the stream failed repeatedly: {reason}")
            return
        self.sleep(min(MAX_BACKOFF, self._retry_seconds * self._failures))

    def _poll_for(self, seconds: float, reason: str) -> None:
        self.display.note(f"Streaming unavailable ({reason}); polling for {seconds:.0f} s.")
        self._stream_again_at = time.monotonic() + seconds

    # -- polling ------------------------------------------------------------------------------

    def _poll_once(self) -> None:
        page = self._events_page()
        if page is None:
            return
        if page["events"] or page["reset"] or self.done:
            return  # more may be waiting: ask again at once
        if page["terminal"] and self.last >= int(page["last_event_id"]):
            self.done = True  # over, and its terminal event was not ours to see (purged)
            return
        self.sleep(POLL_SECONDS)

    def _events_page(self) -> dict[str, Any] | None:
        """One page of ``/events`` after our position, shown; None if the server is away."""
        try:
            response = self.api.client.get(
                f"/api/scans/{self.scan_id}/events",
                params={"after": self.last, "limit": PAGE_SIZE},
            )
        except httpx.TransportError as exc:
            self._unreachable(exc)
            self.sleep(min(MAX_BACKOFF, POLL_SECONDS * 2))
            return None
        if response.status_code >= 500:
            self._unreachable(ApiProblem(response))
            self.sleep(min(MAX_BACKOFF, POLL_SECONDS * 2))
            return None
        page: dict[str, Any] = self.api.check(response).json()
        self._reachable()
        if page.get("reset") and page.get("snapshot"):
            self.display.note(f"The server no longer has the events after {self.last}.")
            self._snapshot(page["snapshot"])
        for payload in page["events"]:
            self._accept(ScanUpdate.from_payload(payload))
            if self.done:
                break
        return page

    # -- order and uniqueness -----------------------------------------------------------------

    def _accept(self, event: ScanUpdate) -> None:
        if event.seq <= self.last:
            return  # seen already (a replay overlapping what we had)
        if event.seq > self.last + 1:
            self._fill_gap(event.seq - 1)
            if event.seq <= self.last or self.done:
                return
        self._show(event)

    def _fill_gap(self, until: int) -> None:
        """Fetch the missing events between our position and ``until`` by polling."""
        while self.last < until and not self.done:
            before = self.last
            page = self._events_page()
            if page is None:
                continue
            if page["reset"] or self.last == before:
                return  # nothing more to fetch: trust what the server has

    def _snapshot(self, snapshot: dict[str, Any]) -> None:
        seq = int(snapshot.get("last_event_id", self.last))
        self.last = seq
        event = ScanUpdate(seq, "snapshot", snapshot)
        self.display.event(event)
        if event.is_terminal:
            self.done = True

    def _show(self, event: ScanUpdate) -> None:
        # The number moves first: an interrupt while showing must not show it twice later.
        self.last = event.seq
        self.display.event(event)
        if event.is_terminal:
            self.done = True

    # -- reachability -------------------------------------------------------------------------

    def _reachable(self) -> None:
        self._unreachable_since = None

    def _unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
            self.display.note(f"Lost the server ({exc}); retrying.")
        elif now - self._unreachable_since > UNREACHABLE_AFTER:
            raise CliError(
                f"The server at {self.api.server} has been unreachable for "
                f"{UNREACHABLE_AFTER:.0f} s ({exc}). The scan may still be running: "
                f"scanpulse watch {self.scan_id}",
                EXIT_UNREACHABLE,
            )


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        seconds = 5.0
    # Jitter, so that many clients refused at once do not come back at once.
    return max(1.0, min(seconds, 300.0)) * random.uniform(1.0, 1.2)  # noqa: S311
