"""The database schema: applied on demand in embedded mode, an explicit deploy step in production.

Every command that reads or writes the database goes through :func:`ensure_schema` first, so
that a first ``scanpulse org create`` on a fresh data directory works instead of failing with
``no such table``. Migrations are applied by one process at a time (:func:`migration_lock`):
two commands started at once on a fresh store must not both create the same tables.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

# PostgreSQL advisory lock key: any constant, the same in every process (deploy/migrate too).
MIGRATION_LOCK_KEY = 0x5CA9_0001


def pending_migrations() -> int:
    """How many migrations the database lacks (all of them on an empty database)."""
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def migrations_pending() -> bool:
    return pending_migrations() > 0


def _lock_file() -> Path:
    """Beside the SQLite file (processes of different data directories may share one), else in
    the data directory."""
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and name and not name.startswith((":memory:", "file:")):
        return Path(f"{name}.migrate-lock")
    return Path(settings.DATA_DIR) / "migrate.lock"


@contextlib.contextmanager
def migration_lock() -> Iterator[None]:
    """Hold the lock that lets one process at a time apply migrations.

    PostgreSQL: a session advisory lock, which every node and ``deploy/migrate`` share. SQLite:
    an exclusive ``flock`` on a file beside the database, released by the kernel if the holder
    dies.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        return
    path = _lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(*, verbosity: int = 0) -> bool:
    """Apply the pending migrations under the lock; True if this process applied any.

    A process that waited for the lock finds the work done by the one that held it.
    """
    if not migrations_pending():
        return False
    with migration_lock():
        if not migrations_pending():
            return False
        call_command("migrate", interactive=False, verbosity=verbosity)
    return True


def ensure_schema() -> None:
    """Make sure the schema is there before a command uses the database.

    Embedded mode prepares its own database. In production migrations stay a deploy step
    (docs/deploy.md: before new code starts, under ``deploy/migrate``'s lock): a command run
    before it gets one clear line instead of a traceback about a missing table.
    """
    try:
        if settings.EMBEDDED:
            migrate()
            return
        missing = pending_migrations()
    except DatabaseError as exc:
        raise CommandError(f"Cannot use the database: {_first_line(exc)}") from exc
    if missing:
        raise CommandError(
            f"The database schema is not up to date ({missing} migrations not applied): "
            "apply them first with deploy/migrate (or `scanpulse migrate`)."
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
