"""Findings, reports and cache entries that hold secrets the old way: scrubbed in place, with
their identities carried over (see ``scanpulse.scans.scrub``)."""

from typing import Any

from django.db import migrations


def scrub(apps: Any, schema_editor: Any) -> None:
    from scanpulse.scans.scrub import scrub_stored_secrets

    scrub_stored_secrets(apps)


class Migration(migrations.Migration):
    # Each scan is scrubbed in a transaction of its own: one transaction over every scan would
    # hold its locks for the whole upgrade.
    atomic = False

    dependencies = [
        ("scans", "0002_scan_enqueued_at"),
    ]

    operations = [
        # Nothing to undo: what was scrubbed is gone, and the previous version reads the rest.
        migrations.RunPython(scrub, migrations.RunPython.noop),
    ]
