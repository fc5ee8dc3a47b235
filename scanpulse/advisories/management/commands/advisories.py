"""``scanpulse advisories sync --from PATH`` and ``scanpulse advisories status``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from scanpulse.advisories.store import active_dataset, describe, sync_advisories
from scanpulse.core.management.base import DatabaseCommand


class Command(DatabaseCommand):
    help = "Manage the OSV advisory database used by the dependencies analyzer."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        sync = actions.add_parser(
            "sync", help="Replace the advisory data with the OSV records at PATH."
        )
        sync.add_argument(
            "--from",
            dest="path",
            required=True,
            help="A directory of OSV records (YAML or JSON) or an OSV all.zip export.",
        )
        sync.add_argument("--source", help="A name for the data (default: the path).")
        actions.add_parser("status", help="Show what is loaded.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            dataset = active_dataset()
            if dataset is None:
                self.stdout.write("No advisory database loaded.")
            else:
                self.stdout.write(describe(dataset))
            return
        try:
            report = sync_advisories(options["path"], source=options["source"])
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        for problem in report.errors[:20]:
            self.stderr.write(f"skipped: {problem}")
        if len(report.errors) > 20:
            self.stderr.write(f"… and {len(report.errors) - 20} more skipped files")
        self.stdout.write(f"Loaded {report.records:,} advisory records.")
