"""Fixtures for scans that really run: advisory data, repositories, waiting for the end."""

from __future__ import annotations

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
