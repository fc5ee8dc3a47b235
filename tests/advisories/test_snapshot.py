"""The analyzers' snapshot file: records stored compressed, read back as the store wrote
them; a snapshot written before compression still reads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from scanpulse.advisories.snapshot import SnapshotAdvisoryIndex, write_snapshot
from tests.support.osv_feed import fixture_records


def test_records_come_back_as_written_and_take_less_room(tmp_path: Path) -> None:
    records = fixture_records("osv-go")
    rows = [
        ("Go", entry["package"]["name"], json.dumps(record))
        for record in records.values()
        for entry in record["affected"][:1]
    ]
    path = tmp_path / "snapshot.sqlite3"
    write_snapshot(path, rows, description="test data")

    index = SnapshotAdvisoryIndex(path)
    ecosystem, name, _ = rows[0]
    found = index.lookup(ecosystem, name)
    assert found and all(advisory.affected for advisory in found)
    assert index.description() == "test data"
    with sqlite3.connect(path) as db:
        stored = sum(len(row[0]) for row in db.execute("SELECT record FROM records"))
    assert stored < sum(len(row[2]) for row in rows) / 2


def test_a_snapshot_of_text_records_still_reads(tmp_path: Path) -> None:
    record = next(iter(fixture_records("osv-go").values()))
    name = record["affected"][0]["package"]["name"]
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE records (ecosystem TEXT, name TEXT, record TEXT)")
        db.execute("INSERT INTO meta VALUES ('description', 'old')")
        db.execute("INSERT INTO records VALUES ('Go', ?, ?)", (name, json.dumps(record)))
    db.close()
    assert [advisory.id for advisory in SnapshotAdvisoryIndex(path).lookup("Go", name)] == [
        record["id"]
    ]
