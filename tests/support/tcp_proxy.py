"""A TCP proxy a test can cut: the database "goes away" without touching the real server.

Everything between the processes under test and PostgreSQL goes through it. ``cut(seconds)``
drops every open connection at once (as a crashed or restarted server would) and refuses new
ones until ``restore()`` or the given time has passed, then accepts again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CHUNK = 65536


class TcpProxy:
    def __init__(
        self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1"
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.port = 0
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._reopen: asyncio.TimerHandle | None = None
        self._down_until: float | None = None

    # -- control, from any thread ----------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def cut(self, seconds: float | None = None) -> None:
        """Drop every connection and refuse new ones; for ``seconds``, or until ``restore()``."""
        self._call(self._cut(seconds))

    def restore(self) -> None:
        self._call(self._listen())

    @property
    def is_down(self) -> bool:
        return self._server is None

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.is_down and time.monotonic() < deadline:
            time.sleep(0.05)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # -- the proxy, on its loop ----------------------------------------------------------------

    async def _listen(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, self.listen_host, self.port or 0, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self, seconds: float | None) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()  # a reset, like a server that vanished
        self._writers.clear()
        if seconds is not None:
            self._reopen = self._loop.call_later(
                seconds, lambda: self._loop.create_task(self._listen())
            )

    async def _shutdown(self) -> None:
        await self._cut(None)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._server is None:
            client.transport.abort()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client.transport.abort()
            return
        self.accepted += 1
        self._writers.update((client, upstream))
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream), self._pipe(upstream_reader, client)
            )
        finally:
            for writer in (client, upstream):
                self._writers.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
