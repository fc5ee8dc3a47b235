"""The seed design record's stream endpoint, rebuilt minimally for comparison only.

It is what ``docs/architecture.md`` lists as replaced: every open stream opens its own Redis
connection and its own pub/sub subscription (``scan:<id>``), and forwards whatever is
published there as ``data:`` lines, with a heartbeat comment after 15 s of silence. No
authentication, no database, no ids, no replay: it does strictly less work per stream than
scanpulse, so whatever it costs is a lower bound for that design.

Served by ``bench/streams.py`` with the same uvicorn settings as scanpulse::

    python -m uvicorn seed_app:app --app-dir bench/streams --loop uvloop --http httptools ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import Any

import redis.asyncio as aioredis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
STREAM = re.compile(r"^/api/scans/(?P<scan>[^/]+)/progress/?$")
HEARTBEAT_SECONDS = 15.0


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _wait_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        await _respond(send, 200, b"ok")
        return
    match = STREAM.match(scope["path"])
    if match is None:
        await _respond(send, 404, b"not found")
        return
    # The seed design: a connection and a subscription of its own for every browser.
    client = aioredis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(f"scan:{match.group('scan')}")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b": connected\n\n", "more_body": True})
        disconnected = asyncio.get_running_loop().create_task(_wait_disconnect(receive))
        try:
            while not disconnected.done():
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS
                )
                body = (
                    b": heartbeat\n\n" if message is None else b"data: " + message["data"] + b"\n\n"
                )
                await send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            disconnected.cancel()
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
        with contextlib.suppress(Exception):
            await client.aclose()
