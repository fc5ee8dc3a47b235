"""A running scan's pulse: heartbeats for the reaper, and prompt notice of cancellation.

A cancel request is a database flag (any web node can set it); the watch polls it every
second while the scan runs. In-process executors also trip it directly, which is instant.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, connection, connections

from .services import Pulse, scan_heartbeat

logger = logging.getLogger(__name__)

_watches: dict[str, ScanWatch] = {}
_watches_lock = threading.Lock()


class ScanWatch:
    def __init__(
        self,
        scan_id: UUID | str,
        *,
        attempt: int | None = None,
        interval: float | None = None,
        time_limit: float | None = None,
    ) -> None:
        self.scan_id = str(scan_id)
        self.attempt = attempt
        self.interval = interval or settings.SCANPULSE_CANCEL_POLL_SECONDS
        self.time_limit = time_limit or settings.SCANPULSE_SCAN_TIME_LIMIT
        self._deadline = time.monotonic() + self.time_limit
        self._cancelled = threading.Event()
        self._superseded = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"scanpulse-watch-{self.scan_id[:8]}", daemon=True
        )

    def __enter__(self) -> ScanWatch:
        with _watches_lock:
            _watches[self.scan_id] = self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()
        with _watches_lock:
            _watches.pop(self.scan_id, None)

    def is_cancelled(self) -> bool:
        """True once the scan must stop: someone cancelled it, it ran out of time, or this
        attempt no longer owns it."""
        return self._cancelled.is_set() or self._superseded.is_set() or self.timed_out

    @property
    def superseded(self) -> bool:
        """The scan ended or went to a newer attempt while this one ran."""
        return self._superseded.is_set()

    @property
    def timed_out(self) -> bool:
        return time.monotonic() > self._deadline

    def cancel(self) -> None:
        self._cancelled.set()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    pulse = scan_heartbeat(scan_id=self.scan_id, attempt=self.attempt)
                except DatabaseError as exc:
                    # The scan keeps going; the reaper judges staleness by heartbeats. The
                    # broken connection must go, or every later heartbeat would fail on it too
                    # (this thread never passes through Django's request cycle).
                    logger.warning("heartbeat of scan %s failed: %s", self.scan_id, exc)
                    with contextlib.suppress(DatabaseError):
                        connection.close()
                    continue
                if pulse == Pulse.CANCELLED:
                    self._cancelled.set()
                elif pulse == Pulse.SUPERSEDED:
                    if not self._superseded.is_set():
                        logger.info(
                            "scan %s: attempt %s no longer owns the scan (it ended, or started "
                            "again elsewhere); stopping this attempt",
                            self.scan_id,
                            self.attempt,
                        )
                    self._superseded.set()
        finally:
            # Its own connection, which would otherwise outlive the thread until the garbage
            # collector's next full pass.
            connections.close_all()


def cancel_local(scan_id: UUID | str) -> bool:
    """Trip the watch of a scan running in this process, if there is one."""
    with _watches_lock:
        watch = _watches.get(str(scan_id))
    if watch is None:
        return False
    watch.cancel()
    return True
