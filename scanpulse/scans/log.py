"""The scan event log: append (with sequence numbers), read back, replay and purge.

Appends run in the worker; reads serve replays, polling and the pages. Sequence numbers are
allocated with ``UPDATE … RETURNING`` on the scan row and then on the organization row, inside
the same transaction as the insert: the row locks make commit order equal number order, so a
reader that has seen number N has also seen every number below it.

Each committed event is announced with ``signals.event_committed`` (the live edge publishes
it), each purge with ``signals.events_purged``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from scanpulse.core.text import storable
from scanpulse.tenancy.models import Organization

from .models import TERMINAL_STATUSES, Scan, ScanEvent
from .resume import LogHead, org_head, scan_head
from .signals import event_committed, events_purged
from .snapshot import EVENT_FIELDS
from .types import EVENT_KINDS, Event

# Events one replay reads at most.
REPLAY_BATCH = 500


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


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name  # a column of the model, not a relation back
    return field


def _column(model: type[models.Model], name: str) -> str:
    column = _field(model, name).column
    assert column is not None, name
    return connection.ops.quote_name(column)


def _increment(
    model: type[models.Model], pk: Any, extra: dict[str, Any], returning: tuple[str, ...]
) -> tuple[Any, ...] | None:
    """Add one to the row's ``last_event_seq`` and set the ``extra`` fields, under the row's
    lock; return the ``returning`` fields (by field name) as the update left them."""
    meta = model._meta
    counter = _column(model, "last_event_seq")
    assignments = [f"{counter} = {counter} + 1"]
    params: list[Any] = []
    for name, value in extra.items():
        assignments.append(f"{_column(model, name)} = %s")
        params.append(_field(model, name).get_db_prep_save(value, connection))
    params.append(meta.pk.get_db_prep_value(pk, connection))
    # Identifiers come from model metadata and are quoted; every value is a parameter.
    table = connection.ops.quote_name(meta.db_table)
    pk_column = _column(model, meta.pk.name)
    columns = ", ".join(_column(model, name) for name in returning)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk_column} = %s RETURNING {columns}"  # noqa: S608
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
    """Append one event and update the scan's snapshot (``snapshot.EVENT_FIELDS``) in the
    same transaction.

    ``signals.event_committed`` is sent once the transaction commits.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    data = storable(data)
    snapshot = storable(snapshot or {})
    unknown = set(snapshot) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"not snapshot fields: {sorted(unknown)}")
    now = timezone.now()
    with transaction.atomic():
        row = _increment(Scan, scan_id, snapshot, ("last_event_seq", "organization"))
        if row is None:
            raise ScanGone(str(scan_id))
        seq, org_pk = row
        org_pk = Organization._meta.pk.to_python(org_pk)
        org_row = _increment(Organization, org_pk, {}, ("last_event_seq",))
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
        transaction.on_commit(lambda: event_committed.send(sender=ScanEvent, event=event))
    return event


def read_events(*, scan_id: Any, after: int, limit: int = REPLAY_BATCH) -> list[Event]:
    rows = ScanEvent.objects.filter(scan_id=scan_id, seq__gt=after).order_by("seq")[:limit]
    return [_to_event(row) for row in rows]


def read_org_events(*, org_id: Any, after: int, limit: int = REPLAY_BATCH) -> list[Event]:
    rows = ScanEvent.objects.filter(organization_id=org_id, org_seq__gt=after).order_by("org_seq")[
        :limit
    ]
    return [_to_event(row) for row in rows]


def read_latest_events(
    *, scan_id: Any, through: int, kinds: frozenset[str], limit: int
) -> tuple[list[Event], int]:
    """The newest ``limit`` events of the given kinds numbered up to ``through``, oldest first,
    and how many there are in all (counted only when there are more than ``limit``)."""
    matching = ScanEvent.objects.filter(scan_id=scan_id, seq__lte=through, kind__in=kinds)
    rows = list(matching.order_by("-seq")[:limit])
    rows.reverse()
    total = max(matching.count(), len(rows)) if len(rows) == limit else len(rows)
    return [_to_event(row) for row in rows], total


@dataclass(frozen=True, slots=True)
class LogReplay:
    """Events after a position, or ``purged``: the ones after it left the log."""

    events: list[Event]
    purged: bool


def scan_replay(scan_id: Any, after: int, limit: int = REPLAY_BATCH) -> LogReplay:
    events = read_events(scan_id=scan_id, after=after, limit=limit)
    if events:
        return LogReplay(events, purged=False)
    head = scan_head(scan_id)
    purged = head is not None and after < head.log.purged_through
    return LogReplay([], purged=purged)


def org_replay(org_id: Any, after: int) -> LogReplay:
    head = org_head(org_id) or LogHead(0)
    if after < head.purged_through:
        return LogReplay([], purged=True)
    return LogReplay(read_org_events(org_id=org_id, after=after, limit=REPLAY_BATCH), False)


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
            transaction.on_commit(
                functools.partial(
                    events_purged.send,
                    sender=ScanEvent,
                    scan_id=str(scan_id),
                    org_id=str(org_id),
                    through=highest,
                )
            )
        purged += deleted
    return purged
