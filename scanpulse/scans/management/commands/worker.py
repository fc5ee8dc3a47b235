"""``scanpulse worker``: a Celery worker that runs scans (production mode)."""

from __future__ import annotations

import os
import secrets
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
        parser.add_argument(
            "-n",
            "--hostname",
            help="The worker's node name, as Celery's -n (%%h is the host name). Default: "
            "scanpulse-<pid>-<random>@<host>, unique among the workers of one host.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError("A worker needs a broker: set REDIS_URL (or SCANPULSE_BROKER_URL).")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1.")
        from scanpulse.scans.executors.celery import celery_app
        from scanpulse.scans.housekeeping import Housekeeper

        app = celery_app()

        housekeeper = Housekeeper().start()
        argv = [
            "worker",
            f"--concurrency={options['concurrency']}",
            f"--loglevel={options['loglevel']}",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
            f"--hostname={options['hostname'] or default_node_name()}",
        ]
        try:
            app.worker_main(argv)
        finally:
            housekeeper.stop()


def default_node_name() -> str:
    """Celery's own default, ``celery@<host>``, is the same for every worker of a host: their
    replies to remote control (ping, inspect) collide and a duplicate-nodename warning is all
    that shows. The process id tells workers of one host apart and points to the process; the
    random part covers workers in separate process namespaces (containers) sharing a name."""
    return f"scanpulse-{os.getpid()}-{secrets.token_hex(2)}@%h"
