"""The pipeline's progress reporter, writing to the scan's event log.

Progress updates are coalesced (at most one event per ``SCANPULSE_PROGRESS_MIN_INTERVAL``);
steps, log lines, finding counts and the terminal event never are, and the newest progress
value is always written before any of them so nothing appears out of order.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections

from scanpulse.core.retry import with_database_retry

from .log import append_event


class ScanReporter:
    def __init__(self, scan_id: UUID | str, *, min_interval: float | None = None) -> None:
        self.scan_id = scan_id
        self.min_interval = (
            settings.SCANPULSE_PROGRESS_MIN_INTERVAL if min_interval is None else min_interval
        )
        self._lock = threading.Lock()
        self._progress = 0
        self._sent_progress = 0
        self._last_sent = 0.0

    def step(self, name: str, *, progress: int | None = None, **details: Any) -> None:
        with self._lock:
            if progress is not None:
                self._progress = max(self._progress, min(100, progress))
            self._sent_progress = self._progress
            self._last_sent = time.monotonic()
            self._append(
                "step",
                {"step": name, "progress": self._progress, **details},
                {"step": name[:200], "progress": self._progress},
            )

    def progress(self, percent: int) -> None:
        with self._lock:
            percent = max(self._progress, min(100, int(percent)))
            self._progress = percent
            now = time.monotonic()
            if percent == self._sent_progress or now - self._last_sent < self.min_interval:
                return
            self._send_progress(now)

    def log(self, message: str, *, level: str = "info") -> None:
        with self._lock:
            self._flush_progress()
            self._append("log", {"level": level, "message": message})

    def checked_out(self, ref: str, commit_sha: str) -> None:
        """Log the commit being scanned and show it on the scan right away."""
        with self._lock:
            self._flush_progress()
            message = f"Checked out {ref} at {commit_sha[:12]}."
            self._append(
                "log",
                {"level": "info", "message": message, "commit_sha": commit_sha},
                {"commit_sha": commit_sha},
            )

    def findings(self, count: int, **details: Any) -> None:
        with self._lock:
            self._flush_progress()
            self._append(
                "findings", {"findings_count": count, **details}, {"findings_count": count}
            )

    def flush(self) -> None:
        with self._lock:
            self._flush_progress()

    def thread_done(self) -> None:
        # The thread's connection would stay open until the garbage collector's next full
        # pass, which a scan with a large heap (many findings) puts off for a long time.
        connections.close_all()

    def _send_progress(self, now: float) -> None:
        self._sent_progress = self._progress
        self._last_sent = now
        self._append("progress", {"progress": self._progress}, {"progress": self._progress})

    def _flush_progress(self) -> None:
        if self._progress != self._sent_progress:
            self._send_progress(time.monotonic())

    def _append(
        self, kind: str, data: dict[str, Any], snapshot: dict[str, Any] | None = None
    ) -> None:
        with_database_retry(
            append_event, scan_id=self.scan_id, kind=kind, data=data, snapshot=snapshot
        )
