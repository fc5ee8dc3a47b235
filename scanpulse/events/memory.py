"""In-memory event bus for the embedded mode: workers and web share one process."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from .bus import EventBus, MessageHandler, ReconnectHandler


class MemoryEventBus(EventBus):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[tuple[asyncio.AbstractEventLoop, MessageHandler]] = []

    def publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, handler in listeners:
            # A closed loop raises RuntimeError: its listener is going away.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(handler, message)

    async def listen(self, on_message: MessageHandler, on_reconnect: ReconnectHandler) -> None:
        entry = (asyncio.get_running_loop(), on_message)
        with self._lock:
            self._listeners.append(entry)
        on_reconnect()  # streams that opened before this point read what they missed
        try:
            await asyncio.Event().wait()
        finally:
            with self._lock:
                self._listeners.remove(entry)

    def close(self) -> None:
        with self._lock:
            self._listeners.clear()
