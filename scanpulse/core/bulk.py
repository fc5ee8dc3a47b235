"""Inserting many rows fast: plain values in, no model instance per row.

``bulk_insert`` writes rows given as ``{attname: value}`` dicts of one model. Fields a row leaves
out take their default (``auto_now_add`` dates: now). On PostgreSQL the rows go through one
``COPY … FROM STDIN`` (values formatted by psycopg's C code); elsewhere through one
``executemany`` of an ``INSERT``. Values are converted by field type only (UUIDs, JSON, dates):
callers hand over what the model's fields would store (already validated and storable). No
signals are sent and nothing is read back, as with ``QuerySet.bulk_create``. Runs in the
caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from django.db import connections, models, router
from django.utils import timezone

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _converter(field: models.Field, vendor: str, connection: Any) -> Convert:
    target: models.Field = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def to_json(value: Any) -> Any:
            return None if value is None else json.dumps(value, cls=encoder)

        return to_json
    if isinstance(target, models.UUIDField) and vendor != "postgresql":

        def to_hex(value: Any) -> Any:
            if value is None:
                return None
            return (value if isinstance(value, UUID) else UUID(str(value))).hex

        return to_hex
    if isinstance(target, models.DateTimeField) and vendor != "postgresql":

        def to_datetime(value: Any) -> Any:
            return connection.ops.adapt_datetimefield_value(value)

        return to_datetime
    return _identity


def bulk_insert(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (dicts by field attname) into ``model``'s table; returns how many."""
    connection = connections[router.db_for_write(model)]
    vendor = connection.vendor
    fields = [field for field in model._meta.concrete_fields if field.column]
    names = [field.attname for field in fields]
    converters = [_converter(field, vendor, connection) for field in fields]
    now = timezone.now()

    def default(field: models.Field) -> Callable[[], Any]:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return lambda: now
        return field.get_default

    defaults = [default(field) for field in fields]
    plan = list(zip(names, converters, defaults, strict=True))

    def values(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(convert(row[name] if name in row else make()) for name, convert, make in plan)

    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(str(field.column)) for field in fields)
    count = 0
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(values(row))
                    count += 1
            return count
        prepared = [values(row) for row in rows]
        if prepared:
            marks = ", ".join(["%s"] * len(fields))
            # Table and column names come from the model, quoted; values are parameters.
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(sql, prepared)
        return len(prepared)


def refresh_statistics(*tables: type[models.Model]) -> list[str]:
    """Have PostgreSQL's planner look at ``tables`` again (``ANALYZE``), after a large insert.

    Until autovacuum's next look, the planner plans with the statistics it had before: a
    project whose 200,000 alerts it believes to be one gets nested loops and a full sort
    where an index walk serves a page in milliseconds. Autovacuum's threshold is a share of
    the table (10 %), so on a large shared table one project's rows may never trigger it.
    ``ANALYZE`` reads a fixed sample, so it costs the same whatever the table's size; with
    ``SKIP_LOCKED`` a table another analyze or vacuum holds is left to that one. Run it
    outside a transaction (it would hold its lock until the commit). Other databases keep
    their own statistics: nothing is done there. Returns the tables analysed.
    """
    done: list[str] = []
    for model in tables:
        connection = connections[router.db_for_write(model)]
        if connection.vendor != "postgresql":
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE (SKIP_LOCKED) {table}")
        done.append(model._meta.db_table)
    return done
