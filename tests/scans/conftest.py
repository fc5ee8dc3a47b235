"""Fixtures for scans that really run: advisory data, repositories, waiting for the end."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from scanpulse.scans.models import TERMINAL_STATUSES, Scan
from tests.support.data import fixture_data

# Real PyPA records of the packages the test repositories pin.
ADVISORY_PACKAGES = ("django", "jinja2", "pyyaml", "requests")


@pytest.fixture
def advisories(transactional_db: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    from scanpulse.advisories.store import sync_advisories

    source = fixture_data("osv-pypa", "vulns")
    subset = tmp_path_factory.mktemp("osv")
    for package in ADVISORY_PACKAGES:
        shutil.copytree(source / package, subset / package)
    sync_advisories(subset, source="PyPA advisory-database (test subset)")


def wait_for_scan(scan_id: Any, timeout: float = 90) -> Scan:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scan = Scan.objects.get(pk=scan_id)
        if scan.status in TERMINAL_STATUSES:
            return scan
        time.sleep(0.1)
    raise TimeoutError(f"scan {scan_id} still {scan.status} after {timeout} s")


def start_scan(tenant: Any, repo_path: Path | str, ref: str = "main", name: str = "app") -> dict:
    project = tenant.client.post(
        "/api/projects/", {"name": name, "repo_url": str(repo_path)}, format="json"
    )
    if project.status_code == 400:  # the project exists already
        project_id = next(
            p["id"]
            for p in tenant.client.get("/api/projects/").json()["results"]
            if p["name"] == name
        )
    else:
        assert project.status_code == 201, project.json()
        project_id = project.json()["id"]
    response = tenant.client.post("/api/scans/", {"project": project_id, "ref": ref}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


CLEAR_SECRETS = ("AKIAIOSFODNN7EXAMPLE", "hunter2")


def everything_shown_and_stored(tenant: Any, scan_id: Any) -> dict[str, str]:
    """Every place a scan's results reach: the API, the report, the events, the scan page,
    and the database rows behind them (the per-file cache included)."""
    from django.test import Client

    from scanpulse.alerts.models import Alert
    from scanpulse.scans.models import (
        AnalysisCacheEntry,
        AnalyzerRun,
        Finding,
        ScanEvent,
        ScanReport,
    )

    scan = Scan.objects.get(pk=scan_id)
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    sarif = tenant.client.get(f"/api/scans/{scan_id}/sarif")
    rows = Finding.objects.filter(scan_id=scan_id).values("message", "properties", "fingerprint")
    report = ScanReport.objects.filter(scan_id=scan_id).first()
    return {
        "findings API": tenant.client.get(
            f"/api/scans/{scan_id}/findings/?page_size=500"
        ).content.decode(),
        "SARIF download": (
            b"".join(sarif.streaming_content) if sarif.streaming else sarif.content
        ).decode(),
        "events": tenant.client.get(f"/api/scans/{scan_id}/events?limit=500").content.decode(),
        "scan page": browser.get(f"/scans/{scan_id}/?tool=bandit").content.decode()
        + browser.get(f"/scans/{scan_id}/?tool=secrets").content.decode(),
        "finding rows": json.dumps(list(rows)),
        "stored report": (
            gzip.decompress(bytes(report.sarif_gzip)).decode() if report is not None else ""
        ),
        "scan row": json.dumps(Scan.objects.filter(pk=scan_id).values("summary").get()),
        "analyzer runs": json.dumps(
            list(AnalyzerRun.objects.filter(scan_id=scan_id).values("rules", "errors", "notes"))
        ),
        "event rows": json.dumps(
            list(ScanEvent.objects.filter(scan_id=scan_id).values_list("data", flat=True))
        ),
        "analysis cache": json.dumps(
            list(AnalysisCacheEntry.objects.values_list("payload", flat=True))
        ),
        "alerts API": tenant.client.get(
            f"/api/projects/{scan.project_id}/alerts/?page_size=500"
        ).content.decode(),
        "alert pages": "".join(
            browser.get(f"/projects/{scan.project_id}/alerts/{alert_id}/").content.decode()
            for alert_id in Alert.objects.filter(project_id=scan.project_id).values_list(
                "id", flat=True
            )
        ),
        "project page": browser.get(f"/projects/{scan.project_id}/?state=all").content.decode(),
        "alert exports": "".join(
            b"".join(
                browser.get(
                    f"/projects/{scan.project_id}/alerts/export?state=all&format={kind}"
                ).streaming_content
            ).decode()
            for kind in ("csv", "json")
        ),
        "findings exports": "".join(
            b"".join(
                browser.get(f"/scans/{scan_id}/findings/export?format={kind}").streaming_content
            ).decode()
            for kind in ("csv", "json")
        ),
        "alert rows": json.dumps(
            list(Alert.objects.filter(project_id=scan.project_id).values("message", "path")),
        ),
    }
