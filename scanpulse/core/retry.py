"""Riding out short database outages in long-running work (scans), instead of losing it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def with_database_retry(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn``; while the database is unreachable, reconnect and try again for up to
    ``SCANPULSE_DB_RETRY_SECONDS``. ``fn`` must be safe to repeat: one transaction (or one
    read) and nothing else, neither writes of its own before it nor retries of its own inside
    it. Inside a transaction nothing is retried: the error reaches the caller of the
    transaction, which is the one to repeat."""
    deadline = time.monotonic() + settings.SCANPULSE_DB_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            close_old_connections()
            connection.close()
