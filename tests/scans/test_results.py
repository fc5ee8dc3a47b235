"""Saving a scan's results while the database comes and goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError

from scanpulse.projects.models import Project
from scanpulse.scans import results
from scanpulse.scans.log import read_events
from scanpulse.scans.models import Finding, ScanReport
from scanpulse.scans.services import scan_create
from scanpulse.scans.summary import ScanSummary
from tests.scans.conftest import wait_for_scan
from tests.support.analyzers import paced_settings
from tests.support.repos import make_repo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paced(settings: Any) -> None:
    values = paced_settings(0.01)
    settings.SCANPULSE_ANALYZER_PATHS = [values["SCANPULSE_ANALYZER_PATHS"]]
    settings.SCANPULSE_ANALYZERS = [values["SCANPULSE_ANALYZERS"]]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"paced": {"seconds_per_file": 0.01}}


def project_of(tenant: Any, tmp_path: Path, files: int) -> Project:
    repo = make_repo(tmp_path / "repo", {f"file{n}.txt": f"{n}\n" for n in range(files)})
    return Project.objects.create(organization=tenant.org, name="p", repo_url=str(repo))


def test_the_stored_summary_reads_back_as_it_was_written(tenant, tmp_path, paced) -> None:
    scan = wait_for_scan(scan_create(user=tenant.user, project=project_of(tenant, tmp_path, 3)).id)
    summary = ScanSummary.from_json(scan.summary)
    assert summary is not None and summary.to_json() == scan.summary
    assert (summary.new, summary.unchanged, summary.fixed) == (3, 0, 0)
    assert summary.analyzers["paced"].findings == 3 and summary.coverage.complete
    assert summary.message == "3 new, 0 unchanged, 0 fixed findings."
    assert ScanSummary.from_json({}) is None  # a scan that did not complete has none


def test_a_database_error_while_saving_repeats_the_save_and_nothing_else(
    tenant, tmp_path, paced, monkeypatch
) -> None:
    # given: a scan whose first try at committing its results loses the database connection
    tries: list[dict[str, Any]] = []

    def flaky_finish(**kwargs: Any) -> bool:
        tries.append(kwargs)
        if len(tries) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return original(**kwargs)

    original = results.scan_finish
    monkeypatch.setattr(results, "scan_finish", flaky_finish)
    project = project_of(tenant, tmp_path, 5)
    # when
    scan = wait_for_scan(scan_create(user=tenant.user, project=project).id)
    # then: the scan completed on its second try at the transaction, within the same attempt
    assert scan.status == "completed" and scan.attempt == 1
    assert len(tries) == 2
    # ... with its results once, and each step it took said once
    assert Finding.objects.filter(scan=scan).count() == scan.findings_count == 5
    assert ScanReport.objects.filter(scan=scan).count() == 1
    steps = [
        event.data["step"]
        for event in read_events(scan_id=scan.id, after=0, limit=1000)
        if event.kind == "step"
    ]
    assert steps.count("Generating SARIF report") == 1
    assert steps.count("Saving results") == 1
    kinds = [event.kind for event in read_events(scan_id=scan.id, after=0, limit=1000)]
    assert kinds.count("completed") == 1
