# The scan event log moved to the scans app (scans 0005 takes the model over, table and all):
# only the model's state leaves this app, the table stays.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("scans", "0005_scanevent"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ScanEvent")],
            database_operations=[],
        ),
    ]
