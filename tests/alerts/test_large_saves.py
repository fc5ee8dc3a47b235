"""A large save has the planner read the findings' and alerts' tables again, on PostgreSQL:
the scan's pages are then planned for their real size at once, not after autovacuum's next
look (which a large shared table may never give one project's rows)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection

from scanpulse.alerts.models import Alert
from scanpulse.core.bulk import refresh_statistics
from scanpulse.scans import results
from scanpulse.scans.models import Finding
from tests.alerts.conftest import scan
from tests.support.repos import GitRepo

pytestmark = pytest.mark.django_db(transaction=True)

TABLES = ("scans_finding", "alerts_alert")


def manual_analyses() -> dict[str, int]:
    """How often each table was analysed by a command (autovacuum's are counted apart)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(TABLES)],
        )
        return dict(cursor.fetchall())


def test_a_large_save_refreshes_the_planner_statistics(
    tenant, flags, tmp_path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(results, "LARGE_SAVE", 3)
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag one\nflag two\n")
    repo.commit("two findings")
    if connection.vendor != "postgresql":
        # SQLite keeps no statistics the save should refresh: nothing is done there.
        assert connection.vendor == "sqlite"
        assert refresh_statistics(Finding, Alert) == []
        assert scan(tenant, repo)["findings_count"] == 2
        return
    before = manual_analyses()
    small = scan(tenant, repo)  # below the threshold
    assert small["findings_count"] == 2
    repo.write("a.py", "flag one\nflag two\nflag three\n")
    repo.commit("three findings")
    large = scan(tenant, repo)
    assert large["findings_count"] == 3
    # Statistics reach the view within about a second of the analysing transaction.
    deadline = time.monotonic() + 10
    while True:
        after = manual_analyses()
        grown = {table: after.get(table, 0) - before.get(table, 0) for table in TABLES}
        if all(grown.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1.5)  # had the small save analysed too, that would show by now
    after = manual_analyses()
    assert {table: after.get(table, 0) - before.get(table, 0) for table in TABLES} == {
        "scans_finding": 1,
        "alerts_alert": 1,
    }
