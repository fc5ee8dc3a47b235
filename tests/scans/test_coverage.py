"""Real scans say whether they looked at everything: which analyzers failed, which files were
skipped or only partly analyzed, which manifests were not checked and why; the gate endpoint
fails an incomplete scan unless the caller allows it."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from scanpulse.scans.models import Scan
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.analyzers import PLUGINS
from tests.support.repos import GitRepo, laughs_repo

pytestmark = pytest.mark.django_db(transaction=True)

PARTLY = (
    "its YAML aliases expand to more than 100,000 values; scanned line by line instead of as YAML"
)


def _scan(tenant: Any, scan_id: str) -> dict[str, Any]:
    response = tenant.client.get(f"/api/scans/{scan_id}/")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _gate(tenant: Any, scan_id: str, query: str) -> dict[str, Any]:
    response = tenant.client.get(f"/api/scans/{scan_id}/gate?{query}")
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def _logs(tenant: Any, scan_id: str) -> list[str]:
    page = tenant.client.get(f"/api/scans/{scan_id}/events?limit=500").json()
    return [e["data"]["message"] for e in page["events"] if e["kind"] == "log"]


def test_a_yaml_bomb_is_partly_analyzed_and_every_other_secret_is_reported(
    tenant, advisories, tmp_path
) -> None:
    # given: a billion-laughs YAML file next to a private key and a JWT
    repo = laughs_repo(tmp_path / "repo")

    # when
    first_id = start_scan(tenant, repo.path)["id"]
    first = wait_for_scan(first_id)

    # then: the secrets are found, and the scan says what it only partly analyzed
    assert first.status == "completed", first.error_message
    secrets = {(f.path, f.rule_id) for f in first.findings.filter(tool="secrets")}
    assert secrets == {("keys/id_rsa", "private-key"), ("web/auth.js", "json-web-token")}
    body = _scan(tenant, first_id)
    assert body["complete"] is False
    assert body["gaps"] == [
        {"analyzer": "secrets", "path": "deploy/laughs.yaml", "kind": "partial", "reason": PARTLY}
    ]
    assert body["gap_count"] == 1
    assert body["summary"]["analyzers"]["secrets"]["outcome"] == "succeeded"
    assert first.summary["message"] == (
        "2 new, 0 unchanged, 0 fixed findings. Incomplete: 1 file partly analyzed."
    )

    # when: the gate is asked, as a CI system would
    failing = _gate(tenant, first_id, "fail_on=critical")
    allowed = _gate(tenant, first_id, "fail_on=critical&allow_incomplete=true")
    both = _gate(tenant, first_id, "fail_on=high")

    # then
    assert (failing["passed"], failing["matching"], failing["complete"]) == (False, 0, False)
    assert failing["reasons"] == ["the scan is incomplete: 1 file partly analyzed"]
    assert failing["gaps"] == body["gaps"]
    assert (allowed["passed"], allowed["reasons"], allowed["allow_incomplete"]) == (True, [], True)
    assert both["reasons"] == [
        "2 findings at or above high",
        "the scan is incomplete: 1 file partly analyzed",
    ]

    # when: scanned again
    second_id = start_scan(tenant, repo.path)["id"]
    second = wait_for_scan(second_id)

    # then: the good files come from the cache, the bomb is read again (quickly), same verdict
    assert "secrets: 3 of 4 files unchanged since an earlier scan: results reused" in _logs(
        tenant, second_id
    )
    assert {(f.path, f.rule_id, f.status) for f in second.findings.filter(tool="secrets")} == {
        ("keys/id_rsa", "private-key", "unchanged"),
        ("web/auth.js", "json-web-token", "unchanged"),
    }
    assert _scan(tenant, second_id)["gaps"] == body["gaps"]
    new_only = _gate(tenant, second_id, "fail_on=high&new_only=true")
    assert (new_only["passed"], new_only["matching"]) == (False, 0)
    assert _gate(tenant, second_id, "fail_on=high&new_only=true&allow_incomplete=1")["passed"]


def test_every_manifest_found_is_checked_or_listed_with_the_reason(
    tenant, advisories, tmp_path
) -> None:
    # given: one manifest of each kind; advisory data is loaded for PyPI only
    repo = GitRepo(tmp_path / "repo")
    repo.write("requirements.in", "django==3.2.0\n")
    repo.write(
        "py/setup.py",
        "from setuptools import setup\nsetup(name='x', install_requires=['django==3.2.0'])\n",
    )
    repo.write("pipenv/Pipfile", '[packages]\ndjango = "==3.2.0"\n')
    repo.write(
        "poetry/pyproject.toml",
        '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\ndjango = "3.2.0"\n',
    )
    repo.write("web/package.json", json.dumps({"dependencies": {"lodash": "^4.17.0"}}))
    lock = {"lockfileVersion": 3, "packages": {"node_modules/lodash": {"version": "4.17.20"}}}
    repo.write("api/package-lock.json", json.dumps(lock))
    repo.commit()

    # when
    scan_id = start_scan(tenant, repo.path)["id"]
    scan = wait_for_scan(scan_id)

    # then: every Python manifest's pin was checked
    assert scan.status == "completed", scan.error_message
    checked = {
        finding.path
        for finding in scan.findings.filter(tool="dependencies", rule_id="SP-DEP-VULNERABLE")
        if "PYSEC-2021-98" in finding.properties["advisory_ids"]
    }
    assert checked == {"requirements.in", "py/setup.py", "pipenv/Pipfile", "poetry/pyproject.toml"}
    # ... and each manifest not fully checked is listed, with the reason
    no_lock = "next to it: version ranges and the dependencies of its dependencies are not checked"
    assert {
        (gap["path"], gap["kind"], gap["reason"]) for gap in _scan(tenant, scan_id)["gaps"]
    } == {
        ("api/package-lock.json", "not_checked", "no advisory data loaded for npm"),
        ("web/package.json", "not_checked", "no advisory data loaded for npm"),
        (
            "web/package.json",
            "not_checked",
            "no lockfile (package-lock.json or npm-shrinkwrap.json or yarn.lock or pnpm-lock.yaml) "
            f"{no_lock}",
        ),
        ("pipenv/Pipfile", "partial", f"no lockfile (Pipfile.lock) {no_lock}"),
        ("poetry/pyproject.toml", "partial", f"no lockfile (poetry.lock) {no_lock}"),
    }
    logs = _logs(tenant, scan_id)
    assert (
        "dependencies: no advisory data loaded for npm — 2 manifests not checked against "
        "advisories: api/package-lock.json, web/package.json"
    ) in logs
    assert "dependencies: web/package.json not checked: no advisory data loaded for npm" in logs
    assert scan.summary["message"].endswith(
        "Incomplete: 2 files partly analyzed; 2 manifests not checked."
    )


def test_a_failed_analyzer_and_a_skipped_file_make_the_scan_incomplete(
    tenant, transactional_db, tmp_path, settings
) -> None:
    # given: an analyzer that crashes, and a link out of the repository
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = [
        "paced:CrashingAnalyzer",
        "scanpulse.analyzers.bandit:BanditAnalyzer",
    ]
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", "print('hello')\n")
    os.symlink("/etc/passwd", repo.path / "passwd-link")
    repo.commit()

    # when
    scan_id = start_scan(tenant, repo.path)["id"]
    wait_for_scan(scan_id)

    # then
    body = _scan(tenant, scan_id)
    assert (body["status"], body["complete"]) == ("completed", False)
    assert body["gaps"] == [
        {
            "analyzer": None,
            "path": "passwd-link",
            "kind": "skipped",
            "reason": "symbolic link to a path outside the repository",
        },
        {
            "analyzer": "crashing",
            "path": None,
            "kind": "analyzer_failed",
            "reason": "analyzer crashing crashed (exit code 70)",
        },
    ]
    assert _gate(tenant, scan_id, "fail_on=low")["reasons"] == [
        "the scan is incomplete: analyzer crashing failed; 1 file skipped"
    ]


def test_a_complete_scan_passes_the_gate(tenant, advisories, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", "print('hello')\n")
    repo.write("requirements.txt", "requests==2.32.3\n")  # no advisory in the data
    repo.commit()

    scan_id = start_scan(tenant, repo.path)["id"]
    wait_for_scan(scan_id)

    body = _scan(tenant, scan_id)
    assert (body["complete"], body["gaps"], body["gap_count"]) == (True, [], 0)
    gate = _gate(tenant, scan_id, "fail_on=low")
    assert (gate["passed"], gate["reasons"], gate["matching"]) == (True, [], 0)


def test_the_gate_answers_only_for_finished_scans_and_checks_its_input(
    tenant, other_tenant, transactional_db, tmp_path, settings
) -> None:
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["paced:PacedAnalyzer"]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"paced": {"seconds_per_file": 1.0}}
    repo = GitRepo(tmp_path / "repo")
    for index in range(10):
        repo.write(f"f{index}.txt", "x\n")
    repo.commit()
    scan_id = start_scan(tenant, repo.path)["id"]
    deadline = time.monotonic() + 30
    while Scan.objects.get(pk=scan_id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)

    running = tenant.client.get(f"/api/scans/{scan_id}/gate?fail_on=high")
    invalid = tenant.client.get(f"/api/scans/{scan_id}/gate?fail_on=severe&allow_incomplete=")
    foreign = other_tenant.client.get(f"/api/scans/{scan_id}/gate?fail_on=high")

    assert running.status_code == 409
    assert running.json()["error"]["code"] == "scan_not_finished"
    assert invalid.status_code == 400
    assert set(invalid.json()["error"]["fields"]) == {"fail_on", "allow_incomplete"}
    assert foreign.status_code == 404
    assert _scan(tenant, scan_id)["complete"] is None
    tenant.client.post(f"/api/scans/{scan_id}/cancel")
    wait_for_scan(scan_id)
    cancelled = _gate(tenant, scan_id, "fail_on=high&allow_incomplete=true")
    assert (cancelled["passed"], cancelled["reasons"]) == (False, ["the scan cancelled"])
