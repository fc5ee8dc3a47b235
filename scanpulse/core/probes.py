"""Health and metrics endpoints, served outside Django (they must answer under load)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.db import connection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scanpulse.events.db import run_db


def _database_ok() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


async def health(scope: dict[str, Any], receive: Any, send: Any) -> None:
    try:
        database = await asyncio.wait_for(run_db(_database_ok), timeout=3)
    except Exception:
        database = False
    status = 200 if database else 503
    body = json.dumps({"status": "ok" if database else "unavailable", "database": database})
    await _respond(send, status, body.encode(), b"application/json")


async def metrics(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _respond(send, 200, generate_latest(), CONTENT_TYPE_LATEST.encode())


async def _respond(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
