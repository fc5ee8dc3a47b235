"""The scan event log: append (with sequence numbers), read back, replay and purge.

Appends run in the worker; reads serve replays, polling and the pages. An event gets two
numbers, and for each the order of numbers is the order in which readers can see them, so a
reader that has seen number N has also seen every number below it, and no number below N is
filled in later:

- ``seq`` (the scan's stream) is allocated with ``UPDATE … RETURNING`` on the scan row in the
  transaction that inserts the event: the row lock makes commit order equal number order.
- ``org_seq`` (the organization's stream) is allocated by a numbering step under the
  organization's row lock, held until that step commits. On PostgreSQL, an append outside a
  caller's transaction commits its insert first (``org_seq`` NULL, invisible to org readers)
  and then numbers, in one server-side call (``scanpulse_number_org_events``), every event of
  the organization still unnumbered, in insert order: many scans of one organization append
  in parallel and one numbering step numbers a batch of them with one commit, instead of
  each append holding the organization's row across its own commit. Appends inside a
  caller's transaction, and every append on SQLite, number inside their own transaction as
  before (under the same row lock).

Each committed event is announced with ``signals.event_committed`` (the live edge publishes
it) once it has both numbers, each purge with ``signals.events_purged``.
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
        # 0: not numbered in the org stream yet (scan readers only; org readers skip it).
        org_seq=row.org_seq or 0,
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


def _increment_sql(
    model: type[models.Model], pk: Any, extra: dict[str, Any], returning: tuple[str, ...], by: int
) -> tuple[str, list[Any]]:
    meta = model._meta
    counter = _column(model, "last_event_seq")
    assignments = [f"{counter} = {counter} + %s"]
    params: list[Any] = [by]
    for name, value in extra.items():
        assignments.append(f"{_column(model, name)} = %s")
        params.append(_field(model, name).get_db_prep_save(value, connection))
    params.append(meta.pk.get_db_prep_value(pk, connection))
    # Identifiers come from model metadata and are quoted; every value is a parameter.
    table = connection.ops.quote_name(meta.db_table)
    pk_column = _column(model, meta.pk.name)
    columns = ", ".join(_column(model, name) for name in returning)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk_column} = %s RETURNING {columns}"  # noqa: S608
    return sql, params


def _increment(
    model: type[models.Model],
    pk: Any,
    extra: dict[str, Any],
    returning: tuple[str, ...],
    *,
    by: int = 1,
) -> tuple[Any, ...] | None:
    """Add ``by`` to the row's ``last_event_seq`` and set the ``extra`` fields, under the
    row's lock; return the ``returning`` fields (by field name) as the update left them."""
    sql, params = _increment_sql(model, pk, extra, returning, by)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def _insert_numbered_later(
    scan_id: Any, snapshot: dict[str, Any], kind: str, data: dict[str, Any], now: datetime
) -> ScanEvent | None:
    """PostgreSQL, outside a transaction: the scan's number, its snapshot and the event's row
    (``org_seq`` NULL) in one statement, committed on its own; None if the scan is gone."""
    update, params = _increment_sql(Scan, scan_id, snapshot, ("last_event_seq", "organization"), 1)
    columns = ", ".join(
        _column(ScanEvent, name)
        for name in ("scan", "organization", "seq", "kind", "data", "created_at")
    )
    seq, organization = _column(Scan, "last_event_seq"), _column(Scan, "organization")
    table = connection.ops.quote_name(ScanEvent._meta.db_table)
    sql = (
        f"WITH scan_row AS ({update}) "  # noqa: S608 - identifiers from model metadata, quoted
        f"INSERT INTO {table} ({columns}) "
        f"SELECT %s, {organization}, {seq}, %s, %s, %s FROM scan_row "
        f"RETURNING {_column(ScanEvent, 'id')}, {_column(ScanEvent, 'organization')}, "
        f"{_column(ScanEvent, 'seq')}"
    )
    params += [
        Scan._meta.pk.get_db_prep_value(scan_id, connection),
        kind,
        _field(ScanEvent, "data").get_db_prep_save(data, connection),
        _field(ScanEvent, "created_at").get_db_prep_save(now, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    event_pk, org_pk, seq_value = row
    return ScanEvent(
        id=event_pk,
        scan_id=scan_id,
        organization_id=Organization._meta.pk.to_python(org_pk),
        seq=seq_value,
        kind=kind,
        data=data,
        created_at=now,
    )


def append_event(
    *,
    scan_id: uuid.UUID | str,
    kind: str,
    data: dict[str, Any],
    snapshot: dict[str, Any] | None = None,
) -> Event:
    """Append one event and update the scan's snapshot (``snapshot.EVENT_FIELDS``) in the
    same transaction, and number it in the organization's stream (see the module's doc).

    ``signals.event_committed`` is sent once the event is committed with both numbers.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    data = storable(data)
    snapshot = storable(snapshot or {})
    unknown = set(snapshot) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"not snapshot fields: {sorted(unknown)}")
    now = timezone.now()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # The insert commits alone (the scan row locked only by its own statement), then
        # the numbering step numbers it, with whatever else of the organization is waiting.
        event_row = _insert_numbered_later(scan_id, snapshot, kind, data, now)
        if event_row is None:
            raise ScanGone(str(scan_id))
        event_row.org_seq = _number_after_commit(event_row.organization_id, event_row.pk)
        if event_row.org_seq is None:
            raise ScanGone(str(scan_id))  # deleted with its events between insert and number
        event = _to_event(event_row, scan_id, event_row.organization_id)
        event_committed.send(sender=ScanEvent, event=event)
        return event
    # Inside a caller's transaction, or on SQLite: numbered in the same transaction, the
    # organization's row locked until it commits.
    with transaction.atomic():
        row = _increment(Scan, scan_id, snapshot, ("last_event_seq", "organization"))
        if row is None:
            raise ScanGone(str(scan_id))
        seq, org_pk = row
        org_pk = Organization._meta.pk.to_python(org_pk)
        event_row = ScanEvent.objects.create(
            scan_id=scan_id,
            organization_id=org_pk,
            seq=seq,
            org_seq=None,
            kind=kind,
            data=data,
            created_at=now,
        )
        event_row.org_seq = _number_in_transaction(org_pk, event_row.pk)
        event = _to_event(event_row, scan_id, org_pk)
        transaction.on_commit(lambda: event_committed.send(sender=ScanEvent, event=event))
    return event


def _number_after_commit(org_pk: Any, event_pk: int) -> int | None:
    """Number the organization's unnumbered events (PostgreSQL, outside a transaction) and
    return ``event_pk``'s number: None if that event no longer exists."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT scanpulse_number_org_events(%s, %s)", [org_pk, event_pk])
        result = cursor.fetchone()
    return None if result is None or result[0] is None else int(result[0])


def _number_in_transaction(org_pk: Any, event_pk: int) -> int:
    """Number the organization's unnumbered events, the caller's own included, inside the
    caller's transaction: the organization's row stays locked until it commits."""
    Organization.objects.select_for_update(no_key=True).filter(pk=org_pk).values_list("pk").first()
    pending = list(
        ScanEvent.objects.filter(organization_id=org_pk, org_seq__isnull=True)
        .order_by("id")
        .select_for_update()
        .values_list("id", flat=True)
    )
    head = _increment(Organization, org_pk, {}, ("last_event_seq",), by=len(pending))
    assert head is not None  # the scan's organization cannot vanish under its lock
    base = int(head[0]) - len(pending)
    numbers = {pk: base + index for index, pk in enumerate(pending, start=1)}
    ScanEvent.objects.bulk_update(
        [ScanEvent(pk=pk, org_seq=number) for pk, number in numbers.items()], ["org_seq"]
    )
    return numbers[event_pk]


def number_pending_events() -> int:
    """Number events left unnumbered by an append interrupted between its insert and its
    numbering step (housekeeping); how many organizations had some."""
    orgs = list(
        ScanEvent.objects.filter(org_seq__isnull=True)
        .values_list("organization_id", "id")
        .order_by("organization_id", "id")
        .distinct("organization_id")
        if connection.vendor == "postgresql"
        else []
    )
    for org_pk, event_pk in orgs:
        _number_after_commit(org_pk, event_pk)
    return len(orgs)


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
