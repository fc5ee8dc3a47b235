"""The ASGI entry point: streams, polling, health and metrics in front of Django.

The stream endpoints, the polling routes and the probes are plain ASGI handlers so that
thousands of open streams and pollers cost no Django request machinery (see
``scanpulse.events.streams`` and ``scanpulse.events.polling``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Awaitable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scanpulse.config.settings.embedded")

from django.core.asgi import get_asgi_application

_django = get_asgi_application()

from scanpulse.core.middleware import limit_request_body, with_security_headers  # noqa: E402
from scanpulse.events import polling, streams  # noqa: E402
from scanpulse.server.probes import health, metrics  # noqa: E402

# Django reads a whole request body before any middleware can refuse it: cap it first.
django_application = limit_request_body(_django)
stream_application = streams.StreamApp()
# The polling routes share the streams' memory; what they do not answer goes to Django.
poll_application = polling.PollApp(stream_application, django_application)


def _route(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
    """The handler's coroutine, returned rather than awaited here: an open stream keeps no
    frame of this function (about 0.5 KB each, at tens of thousands of streams)."""
    if scope["type"] == "http":
        path = scope["path"]
        if streams.matches(path):
            return stream_application(scope, receive, send)
        if polling.matches(path):
            return poll_application(scope, receive, send)
        if path == "/healthz":
            return health(scope, receive, send)
        if path == "/metrics":
            return metrics(scope, receive, send)
    elif scope["type"] == "lifespan":
        return _lifespan(receive, send)
    return django_application(scope, receive, send)


# Every response, whoever makes it, carries the security headers of Django's pages.
application = with_security_headers(_route)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            stream_application.ensure_started()
            _tune_garbage_collector()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await poll_application.close()
            await stream_application.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _tune_garbage_collector() -> None:
    """Keep full garbage collections rare in web processes holding thousands of streams.

    A full collection walks every tracked object and stops the event loop, hence every
    stream, meanwhile: with 5,000 open streams a process tracks ~400k objects and a full
    collection takes 0.3–0.6 s. Start-up objects (Django, the URLconf, every module; ~100k)
    live as long as the process: they are frozen out of collections. And when a crowd
    connects at once, each stream's objects are new and long-lived, which by default triggers
    a full collection every ~25 % of growth (four per 5,000 reconnections): production web
    processes wait for ten times more young collections first. Cycles are still found by the
    young collections; only the rare ones that reach the oldest generation wait longer.
    """
    from django.conf import settings

    gc.collect()
    gc.freeze()
    if not settings.EMBEDDED:  # embedded mode also runs scans in this process: leave it be
        young, middle, old = gc.get_threshold()
        gc.set_threshold(young, middle, old * 10)
