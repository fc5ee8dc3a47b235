"""``scanpulse serve``: take the address, apply migrations when needed, then serve HTTP with
uvicorn; what runs in the background (resumed scans, upkeep, the demo scan) starts only once
the server listens."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from scanpulse.core.database import migrate, migrations_pending

BACKLOG = 2048  # uvicorn's default


def _no_persistent_connections() -> None:
    """Serve without persistent database connections, as Django requires under ASGI.

    Each request's synchronous part runs on a thread of its own, and a connection kept for
    reuse (``CONN_MAX_AGE``) stays open after its thread is gone: under load one process held
    50 idle connections, and two web nodes exhausted PostgreSQL's ``max_connections``
    (``FATAL: sorry, too many clients already``, answered as 500s). Workers, which are not
    ASGI, keep their persistent connections.
    """
    os.environ["DATABASE_CONN_MAX_AGE"] = "0"  # the processes uvicorn spawns for --workers
    for database in settings.DATABASES.values():
        database["CONN_MAX_AGE"] = 0  # this process (the only one with --workers 1)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to the address and listening, or one clear line saying why not.

    Taken before anything else starts: a port in use must stop ``serve`` before it migrates,
    resumes scans or starts the demo's, not after (uvicorn would only find out when it binds).
    """
    if not 0 <= port <= 65535:
        raise CommandError(f"port {port} does not exist; choose one from 1 to 65535 with --port N")
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CommandError(f"cannot listen on {host!r}: {exc.strerror}") from exc
    try:
        return socket.create_server(address, family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} is in use; choose another with --port N / make run PORT=N"
        elif exc.errno == errno.EACCES:
            message = f"port {port} needs privileges; choose one above 1023 with --port N"
        elif exc.errno == errno.EADDRNOTAVAIL:
            message = f"{host} is not an address of this machine; choose another with --host"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise CommandError(message) from exc


class _Server(uvicorn.Server):
    """uvicorn's server, calling back once it accepts connections (off the event loop: the
    callback may use the database)."""

    def __init__(self, config: uvicorn.Config, *, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            await asyncio.to_thread(self._on_listening)


class Command(BaseCommand):
    help = "Serve scanpulse (web UI, API and live streams)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers", type=int, default=1, help="ASGI processes (production mode only)."
        )
        parser.add_argument("--no-migrate", action="store_true", help="Never apply migrations.")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Seed a demo organization, user, project and advisories; scan it once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        if workers > 1 and settings.EMBEDDED:
            raise CommandError(
                "Several server processes need a shared event bus: set REDIS_URL "
                "(see docs/deploy.md), or use --workers 1."
            )
        if workers > 1 and options["demo"]:
            raise CommandError("The demo runs in one server process: use --workers 1.")
        sock = listen(options["host"], options["port"])
        try:
            if not options["no_migrate"] and migrations_pending():
                self.stdout.write("Applying database migrations…")
                migrate()
            if options["demo"]:
                from scanpulse.server.demo import seed_demo

                for line in seed_demo():
                    self.stdout.write(line)
                self.stdout.flush()
            connection.close()
            _no_persistent_connections()
            url = f"http://{options['host']}:{sock.getsockname()[1]}/"
            if workers > 1:
                # uvicorn's supervisor binds for its processes: hand the address back to it.
                sock.close()
                self.stdout.write(f"scanpulse listening on {url}")
                self._serve_processes(options, workers)
            else:
                self._serve(sock, url=url, demo=options["demo"])
        finally:
            sock.close()

    def _config(self, *, host: str, port: int, workers: int) -> dict[str, Any]:
        return {
            "host": host,
            "port": port,
            "workers": workers,
            "lifespan": "on",
            "proxy_headers": True,
            "forwarded_allow_ips": settings.SCANPULSE_FORWARDED_ALLOW_IPS,
            "timeout_graceful_shutdown": 5,
            "log_level": settings.SCANPULSE_SERVER_LOG_LEVEL,
            "access_log": settings.SCANPULSE_ACCESS_LOG,
        }

    def _serve_processes(self, options: dict[str, Any], workers: int) -> None:
        uvicorn.run(
            "scanpulse.config.asgi:application",
            **self._config(host=options["host"], port=options["port"], workers=workers),
        )

    def _serve(self, sock: socket.socket, *, url: str, demo: bool) -> None:
        """One process on the socket taken above; background work starts once it listens."""
        background: list[Any] = []

        def on_listening() -> None:
            hint = None
            try:
                background.extend(self._start_background(demo=demo))
                if demo:
                    from scanpulse.server.demo import demo_hint

                    hint = demo_hint(url=url)
            finally:
                connection.close()
            self.stdout.write(f"scanpulse listening on {url}")
            if hint:
                self.stdout.write(hint)
            self.stdout.flush()

        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            "scanpulse.config.asgi:application", **self._config(host=host, port=port, workers=1)
        )
        server = _Server(config, on_listening=on_listening)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        finally:
            for housekeeper in background:
                housekeeper.stop()
            if settings.EMBEDDED:
                self._finish_scans()
        if not server.started:
            raise SystemExit(3)  # uvicorn's startup failure; it logged why

    def _start_background(self, *, demo: bool) -> list[Any]:
        """In embedded mode this process runs the scans: it resumes those an earlier run left
        behind, does the upkeep a worker would and runs the schedules that celery beat would. With ``--demo`` the demo project is scanned
        once. Returns what must be stopped at the end."""
        started: list[Any] = []
        if settings.EMBEDDED:
            from scanpulse.scans.housekeeping import Housekeeper
            from scanpulse.scans.services import scan_resume_orphans
            from scanpulse.schedules.runner import ScheduleRunner

            resumed = scan_resume_orphans()
            if resumed:
                self.stdout.write(f"Resuming {resumed} interrupted scan(s).")
            started.append(Housekeeper().start())
            # Schedules: production runs them with celery beat (docs/deploy.md).
            started.append(ScheduleRunner().start())
            # The advisory feed: now, in the background, then at its interval (production:
            # celery beat).
            from scanpulse.feeds.runner import FeedRunner

            started.append(FeedRunner().start())
        if demo:
            from scanpulse.server.demo import start_demo_scan

            for line in start_demo_scan():
                self.stdout.write(line)
        return started

    def _finish_scans(self) -> None:
        """Let the scans running in this process end properly before it exits (at interpreter
        exit they would fail, unable to start their analyzers); queued ones stay pending and
        start again at the next start."""
        from scanpulse.scans.executor import get_executor, reset_executor

        executor = get_executor()
        running = executor.running()
        if running:
            self.stdout.write(
                f"Waiting for {running} running scan(s) to finish (Ctrl-C again to stop now)…"
            )
            self.stdout.flush()
        try:
            reset_executor(wait=True)
        except KeyboardInterrupt:
            # Exiting normally would still wait for the scan threads. The scans stay running
            # in the database, and the next start resumes them as new attempts.
            self.stdout.write("Stopped; the unfinished scans start again at the next start.")
            self.stdout.flush()
            os._exit(130)
