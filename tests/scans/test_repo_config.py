"""Noise control in real scans: the repository's configuration, the tools' own, the project's
defaults, and what the user sees of them (scan log, API, summary)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from django.test import Client

from scanpulse.cli.display import summary_lines
from scanpulse.cli.results import ScanResult
from scanpulse.pipeline.coverage import GatePolicy
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.analyzers import PLUGINS
from tests.support.repos import VULNERABLE_APP, GitRepo

pytestmark = pytest.mark.django_db(transaction=True)

SHELL = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"


def _scan(tenant, repo: GitRepo, name: str = "app") -> dict:
    scan = wait_for_scan(start_scan(tenant, repo.path, name=name)["id"])
    return tenant.client.get(f"/api/scans/{scan.id}/").json()


def _log(tenant, scan: dict) -> list[str]:
    events = tenant.client.get(f"/api/scans/{scan['id']}/events?limit=500").json()["events"]
    return [e["data"]["message"] for e in events if e["kind"] == "log"]


def _findings(tenant, scan: dict) -> list[dict]:
    url = f"/api/scans/{scan['id']}/findings/?page_size=500"
    return tenant.client.get(url).json()["results"]


def _code(findings: list[dict]) -> set[tuple[str, str, str]]:
    """The code findings of the scan itself (not those fixed since the previous one)."""
    return {
        (f["rule_id"], f["path"], f["severity"])
        for f in findings
        if f["tool"] != "dependencies" and f["status"] != "fixed"
    }


def test_a_malformed_config_fails_the_scan_naming_file_line_and_key(tenant, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", SHELL)
    repo.write(".scanpulse.toml", 'disable = ["B101"]\nexclude = "docs"\n')
    repo.commit()

    scan = _scan(tenant, repo)

    message = (
        "The configuration cannot be used: .scanpulse.toml:2: exclude: "
        "expected a list of strings, got a string"
    )
    assert scan["status"] == "failed"
    assert scan["error_message"] == message
    assert message in _log(tenant, scan)
    assert scan["step"] == "Reading configuration"  # no analyzer ran


def test_excludes_disables_overrides_and_baseline_apply_and_are_counted(tenant, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", VULNERABLE_APP)
    repo.write("tests/test_app.py", SHELL + "assert run\n")
    repo.write("docs/example.py", SHELL)
    repo.write(
        ".scanpulse.toml",
        'exclude = ["docs/**"]\ndisable = ["B404"]\n'
        '[per-path-disable]\n"tests/**" = ["B101", "B602"]\n'
        '[severity]\nB602 = "critical"\n'
        "[analyzers]\ndependencies = false\n",
    )
    aws = hashlib.sha1(b"AKIAIOSFODNN7EXAMPLE").hexdigest()  # noqa: S324
    repo.write(
        ".secrets.baseline",
        '{"results": {"app.py": [{"type": "AWS Access Key", "hashed_secret": "'
        + aws
        + '", "is_secret": false, "line_number": 3}]}}',
    )
    repo.commit()

    scan = _scan(tenant, repo)

    assert scan["status"] == "completed", scan["error_message"]
    findings = _findings(tenant, scan)
    assert _code(findings) == {
        ("B105", "app.py", "low"),
        ("B602", "app.py", "critical"),
        ("aws-access-key", "app.py", "high"),
        ("secret-keyword", "app.py", "high"),
    }
    dismissed = [f for f in findings if f["properties"].get("dismissed_reason")]
    assert [(f["rule_id"], f["properties"]["dismissed_by"]) for f in dismissed] == [
        ("aws-access-key", ".secrets.baseline")
    ]
    assert dismissed[0]["properties"]["dismissed_reason"] == "false_positive"
    config = scan["summary"]["config"]
    assert config["source"] == ".scanpulse.toml"
    rules = {rule["rule"]: (rule["findings"], rule["files"]) for rule in config["rules"]}
    assert rules == {
        "disable B404": (2, 0),
        "per-path-disable tests/**: B101": (1, 0),
        "per-path-disable tests/**: B602": (1, 0),
        "exclude docs/**": (0, 1),
        ".secrets.baseline false positives (dismissed)": (1, 0),
    }
    assert config["removed"] == 4 and config["dismissed"] == 1
    assert "4 removed by .scanpulse.toml." in scan["summary"]["message"]
    log = _log(tenant, scan)
    assert "Configuration: .scanpulse.toml." in log
    assert ".secrets.baseline: 1 audited false positive." in log
    assert "Analyzer dependencies is turned off by .scanpulse.toml." in log
    assert set(scan["summary"]["analyzers"]) == {"bandit", "secrets", "checkov"}
    assert "bandit finished: 2 findings in 2 files" in " ".join(log)
    assert "4 more removed by the configuration." in " ".join(log)
    # the scan page
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    page = browser.get(f"/scans/{scan['id']}/").content.decode()
    assert "Configuration: .scanpulse.toml — 4 findings removed, 1 dismissed" in page
    assert '<code class="wrap-anywhere">per-path-disable tests/**: B602</code>' in page
    # the command line's summary
    lines = [text for text, _ in summary_lines(ScanResult(scan, findings), GatePolicy())]
    at = lines.index("Configuration: .scanpulse.toml — 4 removed, 1 dismissed")
    assert lines[at + 1 : at + 6] == [
        "       2  disable B404",
        "       1  .secrets.baseline false positives (dismissed)",
        "       1  per-path-disable tests/**: B101",
        "       1  per-path-disable tests/**: B602",
        "       0  exclude docs/** (1 file not analyzed)",
    ]


def test_bandit_config_and_project_defaults_then_the_repository_file_wins(tenant, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", VULNERABLE_APP)
    repo.write("vendor/lib.py", SHELL)
    repo.write(
        "pyproject.toml", '[project]\nname = "x"\n\n[tool.bandit]\nexclude_dirs = ["vendor"]\n'
    )
    repo.write(".bandit", "[bandit]\nskips = B105\n")
    repo.commit()
    created = start_scan(tenant, repo.path)  # creates the project; this first scan is not used
    wait_for_scan(created["id"])
    project = created["project"]
    response = tenant.client.patch(
        f"/api/projects/{project}/", {"scan_config": 'disable = ["B404"]\n'}, format="json"
    )
    assert response.status_code == 200, response.json()

    defaults = _scan(tenant, repo)

    assert defaults["status"] == "completed", defaults["error_message"]
    assert _code(_findings(tenant, defaults)) == {
        ("B602", "app.py", "high"),
        ("aws-access-key", "app.py", "high"),
        ("secret-keyword", "app.py", "high"),
    }
    log = _log(tenant, defaults)
    assert "Configuration: project defaults." in log
    assert "Bandit settings from pyproject.toml [tool.bandit] and .bandit." in log
    assert defaults["summary"]["config"]["source"] == "project defaults"

    repo.write(".scanpulse.toml", 'disable = ["secret-keyword"]\n')
    repo.commit()
    own = _scan(tenant, repo)

    assert "Configuration: .scanpulse.toml." in _log(tenant, own)
    assert _code(_findings(tenant, own)) == {
        ("B404", "app.py", "low"),
        ("B602", "app.py", "high"),
        ("aws-access-key", "app.py", "high"),
    }


def test_summaries_stored_before_configuration_existed_read_as_none() -> None:
    from scanpulse.scans.summary import ScanSummary

    old = {"new": 3, "unchanged": 0, "fixed": 0, "analyzers": {}, "message": "3 new."}
    summary = ScanSummary.from_json(old)
    assert summary is not None
    assert (summary.config.source, summary.config.rules, summary.config.removed) == ("none", (), 0)
    assert summary.to_json()["config"] == {
        "source": "none",
        "removed": 0,
        "dismissed": 0,
        "rules": [],
    }
    assert summary_lines(ScanResult({"status": "completed", "summary": old}), GatePolicy())[1:] == [
        (
            "Findings: 0 (0 new, 0 unchanged; 0 fixed) — critical 0, high 0, medium 0, low 0, info 0",
            "",
        )
    ]


def test_a_baseline_false_positive_is_a_dismissed_alert_apart_from_the_totals_and_gate(
    tenant, tmp_path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n')
    aws = hashlib.sha1(b"AKIAIOSFODNN7EXAMPLE").hexdigest()  # noqa: S324
    repo.write(
        ".secrets.baseline",
        '{"results": {"app.py": [{"type": "AWS Access Key", "hashed_secret": "'
        + aws
        + '", "is_secret": false, "line_number": 1}]}}',
    )
    repo.commit()

    scan = _scan(tenant, repo)

    assert scan["status"] == "completed", scan["error_message"]
    findings = _findings(tenant, scan)
    (finding,) = [f for f in findings if f["rule_id"] == "aws-access-key"]
    assert finding["dismissed_reason"] == "false_positive"
    assert scan["summary"]["dismissed"] == 1
    counted = [
        f for f in findings if f["severity"] in ("critical", "high") and not f["dismissed_reason"]
    ]
    gate = tenant.client.get(f"/api/scans/{scan['id']}/gate?fail_on=high").json()
    assert gate["matching"] == len(counted)
    alerts = tenant.client.get(
        f"/api/projects/{scan['project']}/alerts/?state=dismissed&rule=aws-access-key"
    ).json()["results"]
    assert len(alerts) == 1
    alert = tenant.client.get(f"/api/projects/{scan['project']}/alerts/{alerts[0]['id']}/").json()
    assert alert["dismissal"]["reason"] == "false_positive"
    assert alert["dismissal"]["comment"] == (
        f"audited as a false positive in .secrets.baseline at {scan['commit_sha'][:12]}"
    )
    (entry,) = alert["history"]
    assert entry["action"] == "dismissed" and entry["by"] is None

    # a second scan records nothing more: the dismissal is already the project's
    again = _scan(tenant, repo)
    alert = tenant.client.get(f"/api/projects/{again['project']}/alerts/{alerts[0]['id']}/").json()
    assert alert["state"] == "dismissed" and len(alert["history"]) == 1

    # when the team reopens it, the baseline does not dismiss it again: the team decided
    url = f"/api/projects/{again['project']}/alerts/{alerts[0]['id']}/"
    assert tenant.client.post(url + "reopen").status_code == 200
    third = _scan(tenant, repo)
    assert tenant.client.get(url).json()["state"] == "open"
    (finding,) = [f for f in _findings(tenant, third) if f["rule_id"] == "aws-access-key"]
    assert finding["dismissed_reason"] is None


def test_another_branchs_baseline_dismisses_its_own_findings_only(tenant, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n')
    repo.commit()
    main = _scan(tenant, repo)
    repo.git("checkout", "-q", "-b", "dev")
    aws = hashlib.sha1(b"AKIAIOSFODNN7EXAMPLE").hexdigest()  # noqa: S324
    repo.write(
        ".secrets.baseline",
        '{"results": {"app.py": [{"type": "AWS Access Key", "hashed_secret": "'
        + aws
        + '", "is_secret": false, "line_number": 1}]}}',
    )
    repo.commit()

    dev = wait_for_scan(start_scan(tenant, repo.path, name="app", ref="dev")["id"])

    (finding,) = [
        f for f in _findings(tenant, {"id": str(dev.id)}) if f["rule_id"] == "aws-access-key"
    ]
    assert finding["dismissed_reason"] == "false_positive"  # in the branch's own scan
    url = f"/api/projects/{main['project']}/alerts/?rule=aws-access-key&page_size=50"
    states = {(a["ref"], a["state"]) for a in tenant.client.get(url).json()["results"]}
    assert states == {("main", "open"), ("dev", "open")}  # no dismissal for the project


def _alerts(tenant, project_id: str, query: str = "") -> dict[tuple[str, str], dict]:
    url = f"/api/projects/{project_id}/alerts/?page_size=500&{query}"
    return {(a["rule_id"], a["path"]): a for a in tenant.client.get(url).json()["results"]}


def _history(tenant, alert: dict) -> list[tuple[str, str]]:
    url = f"/api/projects/{alert['project']}/alerts/{alert['id']}/"
    return [(h["action"], h["comment"]) for h in tenant.client.get(url).json()["history"]]


def test_what_the_configuration_excludes_is_excluded_not_fixed_and_comes_back(
    tenant, settings, tmp_path
) -> None:
    # given: two analyzers, flags (a finding per "flag" line) and prolific (one per file),
    # and a repository whose every finding is open after a first scan
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["flagging:FlagAnalyzer", "flagging:ProlificAnalyzer"]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"prolific": {"per_file": 1}}
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", "flag one\n")
    repo.write("docs/example.py", "flag two\n")
    repo.write("gone.py", "flag three\n")
    repo.commit()
    first = _scan(tenant, repo)
    project_id = first["project"]
    assert {a["state"] for a in _alerts(tenant, project_id).values()} == {"open"}
    assert len(_alerts(tenant, project_id)) == 6

    # when: the configuration excludes docs/, turns prolific off, and gone.py is deleted
    repo.write(".scanpulse.toml", 'exclude = ["docs/**"]\n[analyzers]\nprolific = false\n')
    (repo.path / "gone.py").unlink()
    repo.commit()
    second = _scan(tenant, repo)

    # then: only what the code change removed is fixed; the rest is excluded, with why
    alerts = _alerts(tenant, project_id)
    states = {key: (a["state"], a["closed_reason"]) for key, a in alerts.items()}
    assert states == {
        ("FLAG001", "app.py"): ("open", None),
        ("FLAG001", "docs/example.py"): ("excluded", "exclude docs/** (.scanpulse.toml)"),
        ("FLAG001", "gone.py"): ("fixed", None),
        ("MANY001", "app.py"): ("excluded", "analyzer prolific turned off by .scanpulse.toml"),
        ("MANY001", "docs/example.py"): (
            "excluded",
            "analyzer prolific turned off by .scanpulse.toml",
        ),
        ("MANY001", "gone.py"): ("excluded", "analyzer prolific turned off by .scanpulse.toml"),
    }
    # ... the summary counts as fixed exactly the fixed alerts, the others apart
    summary = second["summary"]
    assert (summary["fixed"], summary["excluded"], summary["not_checked"]) == (1, 4, 0)
    assert "0 new, 1 unchanged, 1 fixed findings." in summary["message"]
    assert "No longer reported, not fixed: 4 excluded by the configuration." in summary["message"]
    lines = [
        text
        for text, _ in summary_lines(ScanResult(second, _findings(tenant, second)), GatePolicy())
    ]
    assert "No longer reported, not fixed: 4 excluded by the configuration." in lines
    fixed_findings = [f for f in _findings(tenant, second) if f["status"] == "fixed"]
    assert [(f["rule_id"], f["path"]) for f in fixed_findings] == [("FLAG001", "gone.py")]
    # ... excluded alerts are neither open nor fixed in the lists
    assert set(_alerts(tenant, project_id, "state=open")) == {("FLAG001", "app.py")}
    assert set(_alerts(tenant, project_id, "state=fixed")) == {("FLAG001", "gone.py")}
    assert len(_alerts(tenant, project_id, "state=excluded")) == 4
    docs = alerts[("FLAG001", "docs/example.py")]
    assert _history(tenant, docs) == [
        ("excluded", "on main: not checked: exclude docs/** (.scanpulse.toml)")
    ]
    # ... and the pages and the export say so
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    listing = browser.get(f"/projects/{project_id}/?state=excluded").content.decode()
    rows = re.findall(r'<tr role="row" data-alert-id="[^"]+" data-state="(\w+)">', listing)
    assert rows == ["excluded"] * 4
    page = browser.get(f"/projects/{project_id}/alerts/{docs['id']}/").content.decode()
    assert "Excluded by configuration" in page and "exclude docs/** (.scanpulse.toml)" in page
    response = browser.get(f"/projects/{project_id}/alerts/export?format=csv&state=excluded")
    exported = b"".join(response.streaming_content).decode()
    assert exported.count(",excluded,") == 4 and "analyzer prolific turned off" in exported

    # ... and so does the SARIF report, in a notification of its run
    response = tenant.client.get(f"/api/scans/{second['id']}/sarif")
    sarif = json.loads(b"".join(response.streaming_content))
    notes = [
        n["message"]["text"]
        for run in sarif["runs"]
        for invocation in run["invocations"]
        for n in invocation.get("toolExecutionNotifications", [])
    ]
    assert (
        "4 findings of the previous scan are no longer checked, excluded by the configuration "
        "(not fixed): analyzer prolific turned off by .scanpulse.toml: 3; "
        "exclude docs/** (.scanpulse.toml): 1"
    ) in notes

    # when: a scan with unchanged configuration runs again
    third = _scan(tenant, repo)

    # then: nothing moves, nothing is counted twice, no new history
    again = _alerts(tenant, project_id)
    assert {key: (a["state"], a["closed_reason"]) for key, a in again.items()} == states
    assert len(_history(tenant, docs)) == 1
    assert (third["summary"]["fixed"], third["summary"]["excluded"]) == (0, 0)

    # when: the configuration is removed: everything is looked at again, under a gate that
    # refuses any new alert
    gated = tenant.client.patch(
        f"/api/projects/{project_id}/",
        {"gate_policy": {"no_new_alerts_at_or_above": "low"}},
        format="json",
    )
    assert gated.status_code == 200, gated.json()
    (repo.path / ".scanpulse.toml").unlink()
    repo.commit()
    fourth = _scan(tenant, repo)

    # then: the excluded alerts found again are open, with history; the one whose file is
    # gone is fixed now that it was looked for
    states = {key: a["state"] for key, a in _alerts(tenant, project_id).items()}
    assert states == {
        ("FLAG001", "app.py"): "open",
        ("FLAG001", "docs/example.py"): "open",
        ("FLAG001", "gone.py"): "fixed",
        ("MANY001", "app.py"): "open",
        ("MANY001", "docs/example.py"): "open",
        ("MANY001", "gone.py"): "fixed",
    }
    assert _history(tenant, docs)[0] == (
        "included",
        "on main: found again: the configuration no longer excludes it "
        "(it was: exclude docs/** (.scanpulse.toml))",
    )
    # ... and they are not new to the quality gate: they were known before
    assert fourth["summary"]["new"] == 3  # the previous scan did not report them
    gate = tenant.client.get(f"/api/scans/{fourth['id']}/").json()["gate"]
    assert (gate["passed"], gate["reasons"]) == (True, []), gate


def test_an_analyzer_that_failed_leaves_its_alerts_and_the_summary_agrees(
    tenant, settings, tmp_path
) -> None:
    # given: a first scan with an open alert in a file the analyzer can read
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["flagging:FlagAnalyzer"]
    repo = GitRepo(tmp_path / "repo")
    repo.write("app.py", "flag one\n")
    repo.commit()
    project_id = _scan(tenant, repo)["project"]

    # when: the file cannot be read by the analyzer any more
    repo.write("app.py", "flag one\nbroken\n")
    repo.commit()
    second = _scan(tenant, repo)

    # then: the alert stays open, and the summary does not call it fixed
    (alert,) = _alerts(tenant, project_id).values()
    assert alert["state"] == "open"
    assert (second["summary"]["fixed"], second["summary"]["not_checked"]) == (0, 1)
    assert "1 not checked by this scan" in second["summary"]["message"]
    assert [f for f in _findings(tenant, second) if f["status"] == "fixed"] == []
