"""The scan page's log: the newest lines up to the scan's event number as the page read it,
how many older ones it leaves out, and nothing (but the word) once the log is purged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event, purge_expired_events
from scanpulse.scans.models import Scan, ScanStatus
from scanpulse.web import selectors
from scanpulse.web.selectors import LogLine, ScanLog, scan_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def scan(tenant, tmp_path) -> Scan:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return Scan.objects.create(project=project, organization=tenant.org, ref="main")


def _purge(scan: Scan) -> None:
    Scan.objects.filter(pk=scan.pk).update(
        status=ScanStatus.COMPLETED, finished_at=timezone.now() - timedelta(days=3)
    )
    purge_expired_events(retention=timedelta(hours=24))


def test_the_newest_lines_up_to_the_number_read(scan, monkeypatch) -> None:
    # given: log lines among other events, and more appended after the page read the scan
    monkeypatch.setattr(selectors, "LOG_LINES_SHOWN", 3)
    times = {}
    for index in range(5):
        append_event(scan_id=scan.id, kind="progress", data={"progress": index})
        event = append_event(
            scan_id=scan.id, kind="log", data={"level": "info", "message": f"line {index}"}
        )
        times[event.seq] = event.time
    attempt = append_event(
        scan_id=scan.id, kind="attempt", data={"attempt": 2, "message": "Starting attempt 2."}
    )
    times[attempt.seq] = attempt.time
    scan.refresh_from_db()
    append_event(scan_id=scan.id, kind="log", data={"message": "after the page read the scan"})

    # when
    shown = scan_log(scan=scan)

    # then: the three newest of six, the attempt without a level shown as a warning
    assert shown == ScanLog(
        lines=[
            LogLine(8, times[8], "info", "line 3"),
            LogLine(10, times[10], "info", "line 4"),
            LogLine(11, times[11], "warning", "Starting attempt 2."),
        ],
        omitted=3,
        purged=False,
    )


def test_a_short_log_omits_nothing(scan) -> None:
    append_event(scan_id=scan.id, kind="status", data={"status": "pending"})
    scan.refresh_from_db()
    assert scan_log(scan=scan) == ScanLog(lines=[], omitted=0, purged=False)
    append_event(scan_id=scan.id, kind="log", data={"level": "error", "message": "x"})
    scan.refresh_from_db()
    shown = scan_log(scan=scan)
    assert [(line.seq, line.level) for line in shown.lines] == [(2, "error")]
    assert (shown.omitted, shown.purged) == (0, False)


def test_a_purged_log_shows_nothing(scan) -> None:
    append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    _purge(scan)
    scan.refresh_from_db()
    assert scan_log(scan=scan) == ScanLog(lines=[], omitted=0, purged=True)


def test_a_log_purged_after_the_page_read_the_scan_shows_nothing(scan) -> None:
    append_event(scan_id=scan.id, kind="log", data={"message": "x"})
    scan.refresh_from_db()
    _purge(scan)
    assert scan_log(scan=scan) == ScanLog(lines=[], omitted=0, purged=True)
