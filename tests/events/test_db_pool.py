"""The stream path's database threads: bounded, and leaving no connection behind."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from scanpulse.events import db


@pytest.mark.django_db(transaction=True)
def test_shutdown_closes_every_pool_thread_connection() -> None:
    def open_connection() -> tuple[str, BaseDatabaseWrapper]:
        wrapper = connections["default"]  # this thread's own, not the proxy
        wrapper.ensure_connection()
        return threading.current_thread().name, wrapper

    async def many() -> list[tuple[str, BaseDatabaseWrapper]]:
        return await asyncio.gather(*(db.run_db(open_connection) for _ in range(40)))

    used = asyncio.run(many())
    threads = {name for name, _ in used}
    wrappers = {id(wrapper): wrapper for _, wrapper in used}.values()
    assert len(threads) <= db.POOL_SIZE, "the pool never grows past its size"
    persistent = [w for w in wrappers if w.settings_dict["CONN_MAX_AGE"] != 0]
    assert all(w.connection is not None for w in persistent), "kept between calls"

    db.shutdown()

    assert all(wrapper.connection is None for wrapper in wrappers)
    assert not [t for t in threading.enumerate() if t.name.startswith("scanpulse-db")]
    # The pool starts again on next use.
    name, _ = asyncio.run(db.run_db(open_connection))
    assert name.startswith("scanpulse-db")
    db.shutdown()
