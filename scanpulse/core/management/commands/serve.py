"""``scanpulse serve``: apply migrations when needed, then serve HTTP with uvicorn."""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrations_pending() -> bool:
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


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
            "--demo", action="store_true", help="Seed a demo organization and scan."
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
        if not options["no_migrate"] and migrations_pending():
            self.stdout.write("Applying database migrations…")
            call_command("migrate", interactive=False, verbosity=0)
        housekeeper = None
        if settings.EMBEDDED:
            # This process runs the scans: it resumes those an earlier run left behind, and
            # does the upkeep a worker would.
            from scanpulse.scans.housekeeping import Housekeeper
            from scanpulse.scans.services import scan_resume_orphans

            resumed = scan_resume_orphans()
            if resumed:
                self.stdout.write(f"Resuming {resumed} interrupted scan(s).")
            housekeeper = Housekeeper().start()
        if options["demo"]:
            from scanpulse.core.demo import seed_demo

            for line in seed_demo():
                self.stdout.write(line)
        connection.close()
        _no_persistent_connections()
        self.stdout.write(f"scanpulse listening on http://{options['host']}:{options['port']}/")
        try:
            self._serve(options, workers)
        finally:
            if housekeeper is not None:
                housekeeper.stop()

    def _serve(self, options: dict[str, Any], workers: int) -> None:
        uvicorn.run(
            "scanpulse.config.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=workers,
            lifespan="on",
            proxy_headers=True,
            forwarded_allow_ips=settings.SCANPULSE_FORWARDED_ALLOW_IPS,
            timeout_graceful_shutdown=5,
            log_level=settings.SCANPULSE_SERVER_LOG_LEVEL,
            access_log=settings.SCANPULSE_ACCESS_LOG,
        )
