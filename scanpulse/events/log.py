"""The durable event log: append (with sequence numbers) and read back.

Appends run in the worker; reads serve replays and polling. Sequence numbers are allocated
with ``UPDATE … RETURNING`` on the scan row and then on the organization row, inside the
same transaction as the insert: the row locks make commit order equal number order, so a
reader that has seen number N has also seen every number below it.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from scanpulse.core.text import storable
from scanpulse.scans.models import TERMINAL_STATUSES, Scan
from scanpulse.tenancy.models import Organization

from .models import ScanEvent
from .types import EVENT_KINDS, Control, Event

SNAPSHOT_FIELDS = frozenset(
    {
        "status",
        "progress",
        "step",
        "findings_count",
        "started_at",
        "finished_at",
        "error_message",
        "heartbeat_at",
        "attempt",
        "summary",
        "commit_sha",
    }
)


class ScanGone(LookupError):
    """The scan no longer exists (deleted while running)."""


def _to_event(row: ScanEvent, scan_id: Any = None, org_id: Any = None) -> Event:
    return Event(
        scan_id=str(scan_id or row.scan_id),
        org_id=str(org_id or row.organization_id),
        seq=row.seq,
        org_seq=row.org_seq,
        kind=row.kind,
        data=row.data,
        time=row.created_at.isoformat().replace("+00:00", "Z"),
    )


def _increment(
    model: type[Any], pk: Any, extra: dict[str, Any], returning: str
) -> tuple[Any, ...] | None:
    meta = model._meta
    quote = connection.ops.quote_name
    assignments = [f"{quote('last_event_seq')} = {quote('last_event_seq')} + 1"]
    params: list[Any] = []
    for name, value in extra.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    params.append(meta.pk.get_db_prep_value(pk, connection))
    # Identifiers come from model metadata and are quoted; every value is a parameter.
    table, pk_column = quote(meta.db_table), quote(meta.pk.column)
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk_column} = %s RETURNING {returning}"  # noqa: S608
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def append_event(
    *,
    scan_id: uuid.UUID | str,
    kind: str,
    data: dict[str, Any],
    snapshot: dict[str, Any] | None = None,
) -> Event:
    """Append one event and update the scan's snapshot in the same transaction.

    The event is published on the bus once the transaction commits.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    data = storable(data)
    snapshot = storable(snapshot or {})
    unknown = set(snapshot) - SNAPSHOT_FIELDS
    if unknown:
        raise ValueError(f"not snapshot fields: {sorted(unknown)}")
    now = timezone.now()
    quote = connection.ops.quote_name
    with transaction.atomic():
        row = _increment(
            Scan,
            scan_id,
            snapshot,
            f"{quote('last_event_seq')}, {quote('organization_id')}",
        )
        if row is None:
            raise ScanGone(str(scan_id))
        seq, org_pk = row
        org_pk = Organization._meta.pk.to_python(org_pk)
        org_row = _increment(Organization, org_pk, {}, quote("last_event_seq"))
        assert org_row is not None  # the scan's organization cannot vanish under its lock
        event_row = ScanEvent.objects.create(
            scan_id=scan_id,
            organization_id=org_pk,
            seq=seq,
            org_seq=org_row[0],
            kind=kind,
            data=data,
            created_at=now,
        )
        event = _to_event(event_row, scan_id, org_pk)
        transaction.on_commit(lambda: _publish(event))
    return event


def _publish(event: Event) -> None:
    from .bus import get_bus

    get_bus().publish_event(event)


def _publish_control(control: Control) -> None:
    from .bus import get_bus

    get_bus().publish_control(control)


def read_events(*, scan_id: Any, after: int, limit: int = 500) -> list[Event]:
    rows = ScanEvent.objects.filter(scan_id=scan_id, seq__gt=after).order_by("seq")[:limit]
    return [_to_event(row) for row in rows]


def read_org_events(*, org_id: Any, after: int, limit: int = 500) -> list[Event]:
    rows = ScanEvent.objects.filter(organization_id=org_id, org_seq__gt=after).order_by("org_seq")[
        :limit
    ]
    return [_to_event(row) for row in rows]


def purge_expired_events(*, retention: timedelta, now: datetime | None = None) -> int:
    """Delete the logs of scans that finished more than ``retention`` ago."""
    cutoff = (now or timezone.now()) - retention
    scans = Scan.objects.filter(
        status__in=TERMINAL_STATUSES, finished_at__lt=cutoff, events_purged_at__isnull=True
    )
    purged = 0
    for scan_id, org_id in scans.values_list("id", "organization_id").iterator():
        with transaction.atomic():
            events = ScanEvent.objects.filter(scan_id=scan_id)
            highest = events.aggregate(highest=Max("org_seq"))["highest"] or 0
            deleted, _ = events.delete()
            Scan.objects.filter(pk=scan_id).update(events_purged_at=timezone.now())
            Organization.objects.filter(pk=org_id, events_purged_through__lt=highest).update(
                events_purged_through=highest
            )
            notice = Control(
                "purged", {"scan": str(scan_id), "org": str(org_id), "through": highest}
            )
            transaction.on_commit(functools.partial(_publish_control, notice))
        purged += deleted
    return purged
