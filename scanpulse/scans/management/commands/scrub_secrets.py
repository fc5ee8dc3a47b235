"""``scanpulse scrub_secrets``: what the migration ``scans.0003_redact_secrets`` did, again."""

from __future__ import annotations

from typing import Any

from django.apps import apps

from scanpulse.core.management.base import DatabaseCommand
from scanpulse.scans.scrub import scrub_stored_secrets


class Command(DatabaseCommand):
    help = (
        "Redact secrets that findings, SARIF reports and cache entries still hold the way "
        "versions before secret redaction stored them, e.g. those written by workers still on "
        "such a version during a rolling upgrade. Safe to run at any time, and again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        scrubbed = scrub_stored_secrets(apps)
        self.stdout.write(
            f"Findings scrubbed: {scrubbed.findings}, SARIF reports rewritten: "
            f"{scrubbed.reports}, cache entries deleted: {scrubbed.cache_entries}."
        )
