# The scan event log moved from the events app to scans: the table stays where it is (no SQL
# runs), only the model's owner changes.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("scans", "0004_scan_scheduling_index"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ScanEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("seq", models.BigIntegerField()),
                        ("org_seq", models.BigIntegerField()),
                        ("kind", models.CharField(max_length=20)),
                        ("data", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenancy.organization",
                            ),
                        ),
                        (
                            "scan",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="scans.scan",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "events_scanevent",
                        "ordering": ["scan", "seq"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("scan", "seq"), name="unique_scan_event_seq"
                            ),
                            models.UniqueConstraint(
                                fields=("organization", "org_seq"), name="unique_org_event_seq"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
