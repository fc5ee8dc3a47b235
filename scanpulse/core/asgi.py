"""Plain ASGI, for the handlers that answer outside Django (streams, probes, the body limit):
the types of the interface, and whole answers sent in one piece with their length. JSON
bodies of such answers are built here and nowhere else.

Security headers are not added here: the ASGI entry point adds them to every response
(``scanpulse.core.middleware.with_security_headers``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Header = tuple[bytes, bytes]

NO_CACHE: Header = (b"cache-control", b"no-cache")
NO_STORE: Header = (b"cache-control", b"no-store")


async def send_body(
    send: Send, status: int, body: bytes, content_type: bytes, headers: Iterable[Header] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any, headers: Iterable[Header] = ()) -> None:
    await send_body(send, status, json.dumps(payload).encode(), b"application/json", headers)
