"""``scanpulse nginx_config``: print an nginx configuration for the given web processes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scanpulse.core.nginx import render


class Command(BaseCommand):
    help = "Print an nginx configuration that proxies to scanpulse web processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--upstream",
            action="append",
            required=True,
            help="host:port of a web process (repeat).",
        )
        parser.add_argument("--listen", default="80")
        parser.add_argument("--read-timeout", default="1h")
        parser.add_argument(
            "--connections",
            type=int,
            default=32768,
            help="worker_connections: each open stream needs two (default 32768).",
        )
        parser.add_argument(
            "--backlog",
            type=int,
            default=4096,
            help="Listen backlog: connections waiting to be accepted in a reconnect storm "
            "(default 4096; the kernel caps it at net.core.somaxconn).",
        )
        parser.add_argument(
            "--prefix", default="/var/lib/nginx", help="Directory for pid, logs and temp files."
        )
        parser.add_argument("--foreground", action="store_true", help="Add `daemon off;`.")
        parser.add_argument(
            "--trust-forwarded-proto",
            action="store_true",
            help="TLS ends at a load balancer in front of nginx: pass on its X-Forwarded-Proto.",
        )
        parser.add_argument(
            "--metrics-allow",
            action="append",
            default=[],
            metavar="NETWORK",
            help="An address or network that may read /metrics through nginx (repeat); "
            "default: nobody.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = render(
                upstreams=options["upstream"],
                listen=options["listen"],
                read_timeout=options["read_timeout"],
                connections=options["connections"],
                backlog=options["backlog"],
                prefix=options["prefix"],
                foreground=options["foreground"],
                trust_forwarded_proto=options["trust_forwarded_proto"],
                metrics_allow=options["metrics_allow"],
                upload_max_bytes=max(
                    settings.SCANPULSE_SARIF_MAX_BYTES, settings.SCANPULSE_SBOM_MAX_BYTES
                ),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(config, ending="")
