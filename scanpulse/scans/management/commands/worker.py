"""``scanpulse worker``: a Celery worker that runs scans (production mode)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a scan worker (Celery; the broker is SCANPULSE_BROKER_URL or REDIS_URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.SCANPULSE_WORKER_CONCURRENCY,
            help="Scans this worker runs at once (each in its own process).",
        )
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument("--hostname", help="Worker name (default: celery's, host-based).")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError("A worker needs a broker: set REDIS_URL (or SCANPULSE_BROKER_URL).")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1.")
        from scanpulse.config.celery_app import app
        from scanpulse.scans.housekeeping import Housekeeper

        housekeeper = Housekeeper().start()
        argv = [
            "worker",
            f"--concurrency={options['concurrency']}",
            f"--loglevel={options['loglevel']}",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
        ]
        if options["hostname"]:
            argv.append(f"--hostname={options['hostname']}")
        try:
            app.worker_main(argv)
        finally:
            housekeeper.stop()
