"""A read-only, file-based copy of the active advisory dataset for analyzer processes.

Analyzers run isolated, without database credentials; the worker exports the active dataset
once per dataset version to a small SQLite file, and the dependencies analyzer looks packages
up in it. No Django here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from .index import merge_by_alias
from .osv import Advisory, normalize_name


class SnapshotAdvisoryIndex:
    """An ``AdvisoryIndex`` over a snapshot file written by ``write_snapshot``."""

    def __init__(self, path: Path | str) -> None:
        # Read-only URI: an analyzer can never change the snapshot.
        self._db = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'description'").fetchone()
        self._description: str | None = row[0] if row else None
        self._merged: dict[tuple[str, str], list[Advisory]] = {}
        self._ecosystems: frozenset[str] | None = None

    def lookup(self, ecosystem: str, name: str) -> list[Advisory]:
        key = (ecosystem, normalize_name(ecosystem, name))
        merged = self._merged.get(key)
        if merged is None:
            rows = self._db.execute(
                "SELECT record FROM records WHERE ecosystem = ? AND name = ?", key
            ).fetchall()
            merged = merge_by_alias(Advisory.from_dict(json.loads(_text(row[0]))) for row in rows)
            self._merged[key] = merged
        return list(merged)

    def description(self) -> str | None:
        return self._description

    def ecosystems(self) -> frozenset[str]:
        if self._ecosystems is None:
            rows = self._db.execute("SELECT DISTINCT ecosystem FROM records").fetchall()
            self._ecosystems = frozenset(row[0] for row in rows)
        return self._ecosystems


def _text(stored: bytes | str) -> bytes | str:
    # Records are stored zlib-compressed (about a third of the size at 300,000 records,
    # docs/benchmarks.md); snapshots written before that hold text.
    return zlib.decompress(stored) if isinstance(stored, bytes) else stored


class EmptyAdvisoryIndex:
    """No advisory data loaded: every lookup is empty and the analyzer says so."""

    def lookup(self, ecosystem: str, name: str) -> list[Advisory]:
        return []

    def description(self) -> str | None:
        return None

    def ecosystems(self) -> frozenset[str]:
        return frozenset()


def write_snapshot(path: Path, rows: Iterable[tuple[str, str, str]], *, description: str) -> None:
    """Write ``(ecosystem, normalized name, record JSON)`` rows atomically to ``path`` (each
    record zlib-compressed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".advisories-", suffix=".sqlite3", dir=path.parent)
    os.close(fd)
    try:
        with sqlite3.connect(temporary) as db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE records (ecosystem TEXT, name TEXT, record BLOB)")
            db.execute("INSERT INTO meta VALUES ('description', ?)", (description,))
            db.executemany(
                "INSERT INTO records VALUES (?, ?, ?)",
                (
                    (ecosystem, name, zlib.compress(record.encode(), 1))
                    for ecosystem, name, record in rows
                ),
            )
            db.execute("CREATE INDEX records_package ON records (ecosystem, name)")
        db.close()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
