"""Database access from the stream path: a small, fixed pool of threads.

Streams never hold a database connection; the few reads they need (authentication on a cache
miss, replays from the log) run here, so the number of threads and connections is bounded no
matter how many streams are open.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from django.db import close_old_connections, connections

from . import metrics

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
POOL_SIZE = 4


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="scanpulse-db")
    return _executor


def _call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    metrics.DB_CALLS.inc()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(_call, fn, *args, **kwargs))


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
