"""Request guards that must run before anything reads the body (a Django middleware, and the
ASGI wrapper that keeps oversized bodies from being read at all), streamed responses made fit
for the ASGI server, and the security headers of every response, Django's or not."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from .asgi import NO_STORE, ASGIApp, Message, Receive, Scope, Send, send_json
from .errors import error_body

# On every response (JSON, streams and probes included): no sniffing, no framing, no referrer
# to other origins. Django's pages get them from ``ContentSecurityPolicyMiddleware``, whatever
# is answered outside Django from ``with_security_headers``.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def body_limit(path: str) -> int:
    """The most a request to ``path`` may send: ``SCANPULSE_MAX_BODY_BYTES``, or the limit of
    the upload route it is (``SCANPULSE_LARGE_BODY_ROUTES``)."""
    for pattern, limit in settings.SCANPULSE_LARGE_BODY_ROUTES:
        if re.match(pattern, path):
            return int(limit)
    return int(settings.SCANPULSE_MAX_BODY_BYTES)


class RequestSizeLimitMiddleware:
    """Answer 413 for bodies over the limit before anything reads them.

    Django's own check raises a 400 on access; clients deserve the precise status, and the
    body is never buffered.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(tuple(settings.SCANPULSE_OWN_BODY_LIMIT_PATHS)):
            return self.get_response(request)  # capped by the view itself
        limit = body_limit(request.path)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                error_body("bad_request", "Content-Length is not a number."), status=400
            )
        if length > limit:
            return JsonResponse(
                error_body(
                    "payload_too_large",
                    f"The request body is too large (limit {limit} bytes).",
                ),
                status=413,
            )
        return self.get_response(request)


class AsyncStreamingMiddleware:
    """Serve streamed responses that iterate synchronously (WhiteNoise's static files,
    Django's ``FileResponse``) with an asynchronous iterator under ASGI.

    Django's ASGI handler can only ``async for`` over a body: given a synchronous iterator, it
    warns ("StreamingHttpResponse must consume synchronous iterators…") on every such response
    and drains the whole body into a list first. Here each chunk is read in a worker thread
    as it is sent instead. Sits above WhiteNoise so that it sees its responses.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            isinstance(response, StreamingHttpResponse)
            and not response.is_async
            and isinstance(request, ASGIRequest)
        ):
            response.streaming_content = _read_in_thread(response.streaming_content)
        return response


_DONE = object()


def _next_chunk(chunks: Iterator[Any]) -> Any:
    return next(chunks, _DONE)


async def _read_in_thread(chunks: Iterable[Any]) -> AsyncIterator[Any]:
    # A file's read blocks: never on the event loop, which serves every open stream.
    iterator = iter(chunks)
    read = sync_to_async(_next_chunk, thread_sensitive=False)
    while (chunk := await read(iterator)) is not _DONE:
        yield chunk


# --- the ASGI side --------------------------------------------------------------------------


def limit_request_body(app: Any) -> ASGIApp:
    """Wrap Django's ASGI application so that no request body over the limit is ever read.

    Django's ASGI handler reads the whole body (into memory, then a temporary file) before
    any middleware runs, whatever its size and whether or not it declared one: without this
    a client could make the server write gigabytes to disk before being told 413. A declared
    ``Content-Length`` over the limit is answered at once, unread; a body without one (chunked)
    is counted as it arrives and cut off at the limit.
    """

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        limit = body_limit(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    # Django stops reading and answers nothing; the 413 is sent below.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await app(scope, counting_receive, tracking_send)
        if exceeded and not started:
            await _send_too_large(send, limit)

    return limited


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the request middleware answers 400 for it
    return None


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """What Django's ``SecurityMiddleware`` and the page middleware would add to a response to
    this request: the fixed headers, the opener policy, and HSTS on a secure request."""
    headers = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    if settings.SECURE_HSTS_SECONDS and _is_secure(scope):
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append((b"strict-transport-security", value.encode()))
    return headers


def _is_secure(scope: Scope) -> bool:
    """``HttpRequest.is_secure()`` for an ASGI scope: the proxy's header when one is set."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        wanted = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        for name, value in scope.get("headers", []):
            if name.lower() == wanted:
                return bool(value.split(b",", 1)[0].strip() == secure_value.encode())
    return bool(scope.get("scheme") == "https")


def with_security_headers(app: Any) -> ASGIApp:
    """Give every HTTP response the security headers it lacks.

    Wraps the whole ASGI application, so that what never passes Django's middleware — the
    streams, the probes, a 413 for an oversized body, Django's own early 400s — has the same
    headers as a page. Only the start of a response is touched: the body messages of a stream
    go straight through (one function call), with no coroutine of their own.
    """

    async def secured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        extra = security_headers(scope)

        def send_secured(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            return send(message)

        await app(scope, receive, send_secured)

    return secured


async def _send_too_large(send: Send, limit: int) -> None:
    body = error_body("payload_too_large", f"The request body is too large (limit {limit} bytes).")
    await send_json(send, 413, body, [(b"connection", b"close"), NO_STORE])
