"""Whole answers of the plain ASGI handlers (streams refused before they open, probes): a body
sent in one piece, with its length. JSON bodies are built here and nowhere else.

Security headers are not added here: the ASGI entry point adds them to every response
(``scanpulse.core.middleware.with_security_headers``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from scanpulse.core.errors import error_body
from scanpulse.core.middleware import Send

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


class StreamError(Exception):
    """A stream refused before it opened, answered with the API's JSON error body."""

    def __init__(
        self, status: int, code: str, message: str, headers: list[Header] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


async def send_error(send: Send, error: StreamError) -> None:
    await send_json(
        send, error.status, error_body(error.code, error.message), [NO_CACHE, *error.headers]
    )
