"""The ASGI entry point: streams, health and metrics in front of Django.

The stream endpoints and the probes are plain ASGI handlers so that thousands of open
streams cost no Django request machinery (see ``scanpulse.events.streams``).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scanpulse.config.settings.embedded")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from scanpulse.core.probes import health, metrics  # noqa: E402
from scanpulse.events import streams  # noqa: E402

stream_application = streams.StreamApp()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        path = scope["path"]
        if streams.matches(path):
            await stream_application(scope, receive, send)
            return
        if path == "/healthz":
            await health(scope, receive, send)
            return
        if path == "/metrics":
            await metrics(scope, receive, send)
            return
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await django_application(scope, receive, send)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            stream_application.ensure_started()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stream_application.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
