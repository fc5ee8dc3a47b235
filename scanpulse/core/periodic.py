"""Work the embedded server repeats on a daemon thread (housekeeping, schedules): the loop,
its stop, and what a failed round does — logged, never ending the thread."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Self

from django.db import DatabaseError, close_old_connections


class PeriodicThread:
    """Calls ``tick`` every ``interval`` seconds (after the first wait) until stopped. A round
    that fails is logged on ``logger`` as ``what`` and the next one comes as usual; the
    thread's database connection is closed after every round."""

    def __init__(self, *, interval: float, name: str, what: str, logger: logging.Logger) -> None:
        self.interval = interval
        self._what = what
        self._logger = logger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def tick(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except DatabaseError as exc:
                self._logger.warning("%s skipped, database unavailable: %s", self._what, exc)
            except Exception:
                self._logger.exception("%s failed", self._what)
            finally:
                with contextlib.suppress(Exception):
                    close_old_connections()
