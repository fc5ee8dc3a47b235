"""Org stream numbers may be assigned just after an event's insert commits.

``org_seq`` becomes nullable (an event not numbered yet), a partial index finds the events
still to number, and on PostgreSQL the numbering step is one server-side function, so that
the organization's locks are held only while numbering, never across a client round trip.
See ``scanpulse.scans.log``.
"""

from django.db import migrations, models

NUMBER_ORG_EVENTS = """
CREATE OR REPLACE FUNCTION scanpulse_number_org_events(org uuid, event bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    numbered bigint;
BEGIN
    -- Numbering steps of one organization take turns (no WAL, so an empty turn is cheap);
    -- a transaction that numbers inside a caller's transaction takes the row lock alone.
    PERFORM pg_advisory_xact_lock(1397773654, hashtext(org::text));
    IF EXISTS (
        SELECT 1 FROM events_scanevent WHERE organization_id = org AND org_seq IS NULL
    ) THEN
        -- The organization's row lock orders every numbering (and the scan queue) as before.
        PERFORM 1 FROM tenancy_organization WHERE id = org FOR NO KEY UPDATE;
        WITH pending_rows AS (
            SELECT id FROM events_scanevent
            WHERE organization_id = org AND org_seq IS NULL
            ORDER BY id
            FOR UPDATE
        ), pending AS (
            SELECT id, row_number() OVER (ORDER BY id) AS n FROM pending_rows
        ), head AS (
            UPDATE tenancy_organization
            SET last_event_seq = last_event_seq + (SELECT count(*) FROM pending)
            WHERE id = org
            RETURNING last_event_seq - (SELECT count(*) FROM pending) AS base
        )
        UPDATE events_scanevent AS event_row
        SET org_seq = head.base + pending.n
        FROM pending, head
        WHERE event_row.id = pending.id;
    END IF;
    SELECT org_seq INTO numbered FROM events_scanevent WHERE id = event;
    RETURN numbered;
END
$$;
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NUMBER_ORG_EVENTS)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS scanpulse_number_org_events(uuid, bigint)")


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0012_listing_order_indexes"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="scanevent",
            name="org_seq",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="scanevent",
            index=models.Index(
                condition=models.Q(org_seq__isnull=True),
                fields=["organization", "id"],
                name="scanevent_org_unnumbered",
            ),
        ),
        migrations.RunPython(create_function, drop_function),
    ]
