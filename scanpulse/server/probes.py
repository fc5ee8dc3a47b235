"""Health and metrics endpoints, served outside Django (they must answer under load)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from django.conf import settings
from django.db import connection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scanpulse.core.asgi import NO_STORE, send_body, send_json
from scanpulse.core.errors import error_body
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
    payload = {"status": "ok" if database else "unavailable", "database": database}
    await send_json(send, status, payload, [NO_STORE])


async def metrics(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if not metrics_allowed(scope):
        body = error_body(
            "permission_denied",
            "Metrics are served only to the addresses in SCANPULSE_METRICS_ALLOW_IPS.",
        )
        await send_json(send, 403, body, [NO_STORE])
        return
    await send_body(send, 200, generate_latest(), CONTENT_TYPE_LATEST.encode(), [NO_STORE])


def metrics_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(value.strip(), strict=False)
        for value in settings.SCANPULSE_METRICS_ALLOW_IPS
        if value.strip()
    ]


def metrics_allowed(scope: dict[str, Any]) -> bool:
    """Whether the client may read the metrics: its address as the server sees it, i.e. the
    connection's, or the one a proxy in ``SCANPULSE_FORWARDED_ALLOW_IPS`` forwarded."""
    client = scope.get("client")
    if client is None:
        return True  # a Unix socket: someone on this machine
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in metrics_networks())
