"""Redis event bus for production: one Redis stream, one reader per web process.

A Redis stream rather than pub/sub: a reader that loses its connection continues from the
last entry it saw, so a network blip or a Redis restart delays messages instead of dropping
them (entries written after a restart get later ids, because ids are timestamps). The stream
is capped; the event log in the database remains the source of truth behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .bus import EventBus, MessageHandler, ReconnectHandler
from .types import decode_message, encode_message

logger = logging.getLogger(__name__)

CHANNEL = "scanpulse:events"
STREAM_MAXLEN = 100_000
# Messages waiting for Redis to come back. Past this, the oldest are dropped: subscribers
# detect the resulting gap from the next number they see and read the log instead.
MAX_BACKLOG = 100_000


class RedisEventBus(EventBus):
    def __init__(self, url: str | None = None, *, channel: str = CHANNEL) -> None:
        self.url: str = url or settings.REDIS_URL or ""
        if not self.url:
            raise ImproperlyConfigured(f"{type(self).__name__} needs REDIS_URL")
        self.channel = channel
        self._client = redis.Redis.from_url(
            self.url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
        self._lock = threading.Lock()
        self._backlog: deque[bytes] = deque(maxlen=MAX_BACKLOG)
        self._flusher: threading.Thread | None = None
        self._closed = False

    # -- publishing ------------------------------------------------------------------------

    def publish(self, message: dict[str, Any]) -> None:
        data = encode_message(message)
        with self._lock:
            if not self._backlog:
                try:
                    self._append(data)
                    return
                except redis.RedisError as exc:
                    logger.warning("event bus publish failed, will retry: %s", exc)
            # Something is already waiting: queue behind it so order is kept.
            self._backlog.append(data)
            self._start_flusher()

    def _append(self, data: bytes) -> None:
        self._client.xadd(self.channel, {"m": data}, maxlen=STREAM_MAXLEN, approximate=True)

    def _start_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(
                target=self._flush_backlog, name="scanpulse-bus-flusher", daemon=True
            )
            self._flusher.start()

    def _flush_backlog(self) -> None:
        delay = 0.1
        while not self._closed:
            with self._lock:
                try:
                    while self._backlog:
                        self._append(self._backlog[0])
                        self._backlog.popleft()
                    return
                except redis.RedisError:
                    pass
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def pending(self) -> int:
        """Messages not yet handed to Redis (for tests and metrics)."""
        return len(self._backlog)

    # -- receiving -------------------------------------------------------------------------

    async def listen(self, on_message: MessageHandler, on_reconnect: ReconnectHandler) -> None:
        delay = 0.05
        last_id: Any = None  # the id of the last entry seen (bytes), None before the first
        while True:
            client = aioredis.Redis.from_url(
                self.url, socket_keepalive=True, socket_connect_timeout=2, socket_timeout=10
            )
            try:
                if last_id is None:
                    newest = await client.xrevrange(self.channel, count=1)
                    last_id = newest[0][0] if newest else b"0-0"
                else:
                    logger.info("event bus connection restored")
                # Streams opened before the first read, and entries trimmed or lost with a
                # Redis restart, are only in the log.
                on_reconnect()
                delay = 0.05
                task = asyncio.current_task()
                while True:
                    batches: Any = await client.xread(
                        {self.channel: last_id}, count=1000, block=1000
                    )
                    if task is not None and task.cancelling():
                        # redis-py can absorb a cancellation that lands inside a blocking
                        # read; honour it as soon as the read returns.
                        raise asyncio.CancelledError
                    for _stream, entries in batches:
                        for entry_id, fields in entries:
                            last_id = entry_id
                            try:
                                message = decode_message(fields[b"m"])
                            except (KeyError, ValueError):
                                logger.error("ignoring a malformed bus message")
                                continue
                            on_message(message)
            except (redis.RedisError, OSError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # redis-py turns a cancelled read into an error; stop as asked
                logger.warning("event bus connection lost (%s); reconnecting", exc)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def close(self) -> None:
        self._closed = True
        self._client.close()
