"""Database access from the stream path: a small, fixed pool of threads.

Streams never hold a database connection; the few reads they need (authentication on a cache
miss, replays from the log) run here, so the number of threads and connections is bounded no
matter how many streams are open.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from django.db import close_old_connections, connection, connections

from . import metrics

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
POOL_SIZE = 4
# How long a pool thread keeps its database connection.
POOL_CONNECTION_SECONDS = 60.0


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="scanpulse-db")
    return _executor


def _counter(purpose: str) -> Callable[..., Any]:
    counter = metrics.DB_QUERIES.labels(purpose=purpose)

    def count(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        counter.inc()
        return execute(sql, params, many, context)

    return count


_COUNTERS: dict[str, Callable[..., Any]] = {}


def _call(purpose: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    close_old_connections()
    fresh = connection.connection is None
    try:
        counter = _COUNTERS.get(purpose) or _COUNTERS.setdefault(purpose, _counter(purpose))
        with connection.execute_wrapper(counter):
            return fn(*args, **kwargs)
    finally:
        if fresh and connection.connection is not None:
            # The pool's threads are few and live as long as the process: each keeps its
            # connection for a while, whatever ``CONN_MAX_AGE`` says for Django's own threads
            # (under ASGI those come and go, and a connection kept there would outlive them).
            # Opening one per read cost more than the read itself under polling load.
            connection.close_at = time.monotonic() + POOL_CONNECTION_SECONDS
        close_old_connections()  # closes it once it is broken or older than that


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn`` in the pool, for a request (its SQL counted as the requests')."""
    metrics.DB_CALLS.inc()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _pool(), functools.partial(_call, "request", fn, *args, **kwargs)
    )


async def run_db_recheck(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn`` in the pool, for the periodic checks of access (counted apart from requests)."""
    metrics.DB_CALLS.inc()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _pool(), functools.partial(_call, "recheck", fn, *args, **kwargs)
    )


def shutdown(timeout: float = 10) -> None:
    """Close every pool thread's database connection and stop the threads.

    Connections belong to the thread that opened them, so each thread closes its own: one
    task per thread, held at a barrier until every thread has one. Called at server shutdown
    (and by the test suite, before it drops its database); the pool starts again on next use.
    """
    global _executor
    executor, _executor = _executor, None
    if executor is None:
        return
    barrier = threading.Barrier(POOL_SIZE)

    def close() -> None:
        try:
            barrier.wait(timeout)
        finally:
            connections.close_all()

    futures = [executor.submit(close) for _ in range(POOL_SIZE)]
    executor.shutdown(wait=True)
    for future in futures:
        future.result()
