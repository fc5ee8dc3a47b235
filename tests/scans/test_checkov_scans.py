"""Checkov in real scans: infrastructure findings with their severity, CWE and help in the API;
``.scanpulse.toml`` excludes and switches it off; a Checkov that fails makes the scan
incomplete and fails the gate, visibly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.repos import GitRepo

pytestmark = pytest.mark.django_db(transaction=True)

IAC = Path(__file__).parents[1] / "analyzers" / "iac"


@pytest.fixture
def checkov_only(settings: Any) -> None:
    settings.SCANPULSE_ANALYZERS = ["scanpulse.analyzers.checkov:CheckovAnalyzer"]


def _repo(tmp_path: Path, config: str | None = None) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("infra/main.tf", (IAC / "terraform" / "vulnerable" / "main.tf").read_text())
    repo.write("Dockerfile", (IAC / "dockerfile" / "vulnerable" / "Dockerfile").read_text())
    repo.write("app.py", "print('hello')\n")
    if config is not None:
        repo.write(".scanpulse.toml", config)
    repo.commit("infra")
    return repo


def _gate(tenant: Any, scan_id: str) -> dict[str, Any]:
    response = tenant.client.get(f"/api/scans/{scan_id}/gate?fail_on=high")
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def test_checkov_findings_in_a_scan(tenant, checkov_only, tmp_path) -> None:
    # given: Terraform and a Dockerfile with known problems; the Dockerfile excluded
    repo = _repo(tmp_path, config='exclude = ["Dockerfile"]\n')

    # when
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"], timeout=300)

    # then: the Terraform findings, with severity, CWE and help, and none for the Dockerfile
    assert scan.status == "completed", scan.error_message
    findings = tenant.client.get(f"/api/scans/{scan.id}/findings/?page_size=200").json()["results"]
    assert {f["path"] for f in findings} == {"infra/main.tf"}
    by_rule = {f["rule_id"]: f for f in findings}
    ssh = by_rule["CKV_AWS_24"]
    assert (ssh["severity"], ssh["start_line"], ssh["end_line"]) == ("high", 1, 12)
    assert ssh["cwe"] == ["CWE-284"] and ssh["tool"] == "checkov"
    assert by_rule["CKV_AWS_17"]["severity"] == "high"
    assert by_rule["CKV_AWS_16"]["cwe"] == ["CWE-311"]
    body = tenant.client.get(f"/api/scans/{scan.id}/").json()
    assert body["complete"] is True
    checkov = body["summary"]["analyzers"]["checkov"]
    assert (checkov["outcome"], checkov["files"]) == ("succeeded", 1)
    assert checkov["notes"][0].startswith("Checkov 3.")
    gate = _gate(tenant, scan.id)
    assert gate["passed"] is False and gate["matching"] >= 2


def test_checkov_turned_off_by_the_repository(tenant, settings, tmp_path) -> None:
    settings.SCANPULSE_ANALYZERS = [
        "scanpulse.analyzers.bandit:BanditAnalyzer",
        "scanpulse.analyzers.checkov:CheckovAnalyzer",
    ]
    repo = _repo(tmp_path, config="[analyzers]\ncheckov = false\n")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"], timeout=120)
    assert scan.status == "completed", scan.error_message
    assert tenant.client.get(f"/api/scans/{scan.id}/findings/").json()["results"] == []
    body = tenant.client.get(f"/api/scans/{scan.id}/").json()
    assert set(body["summary"]["analyzers"]) == {"bandit"}


def test_a_crashed_checkov_fails_the_gate_visibly(tenant, tmp_path, settings) -> None:
    # given: a Checkov that fails on every run, beside Bandit (which succeeds)
    settings.SCANPULSE_ANALYZERS = [
        "scanpulse.analyzers.bandit:BanditAnalyzer",
        "scanpulse.analyzers.checkov:CheckovAnalyzer",
    ]
    broken = tmp_path / "checkov"
    broken.write_text("#!/bin/sh\necho 'checkov: internal error' >&2\nexit 2\n")
    broken.chmod(0o755)
    settings.SCANPULSE_CHECKOV = str(broken)
    repo = _repo(tmp_path)

    # when
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"], timeout=120)

    # then: the scan completes incomplete, names the failure, and the gate fails on it
    body = tenant.client.get(f"/api/scans/{scan.id}/").json()
    assert (body["status"], body["complete"]) == ("completed", False)
    assert {
        "analyzer": "checkov",
        "path": None,
        "kind": "analyzer_failed",
        "reason": "analyzer checkov crashed (unhandled RuntimeError)",
    } in body["gaps"]
    gate = _gate(tenant, scan.id)
    assert gate["passed"] is False
    assert "the scan is incomplete: analyzer checkov failed" in gate["reasons"]
