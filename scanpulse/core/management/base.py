"""What scanpulse's own management commands share."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from scanpulse.core.database import ensure_schema


class DatabaseCommand(BaseCommand):
    """A command that uses the database: the schema is prepared (embedded mode) or checked
    (production) before it runs, so a fresh store never answers with a missing table."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        ensure_schema()
        return super().execute(*args, **options)
