"""A stream refused before it opens: the API's JSON error body, sent whole
(``scanpulse.core.asgi``)."""

from __future__ import annotations

from scanpulse.core.asgi import NO_CACHE, Header, Send, send_json
from scanpulse.core.errors import error_body


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
