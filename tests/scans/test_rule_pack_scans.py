"""The rule pack in real scans: findings with the rule's severity and CWE in the API, the
SARIF report and the scan page; families switched off and the repository's own rules from
``.scanpulse.toml``, listed in the scan summary."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.repos import GitRepo

pytestmark = pytest.mark.django_db(transaction=True)

VIEWS = """\
import sqlite3

from flask import Flask, request

app = Flask(__name__)


@app.route("/users")
def users():
    name = request.args.get("name")
    cursor = sqlite3.connect("app.db").cursor()
    cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
    return "ok"
"""

SETTINGS = "DEBUG = True\nprint('settings loaded')\n"

CONFIG = """\
[rule-pack]
disable-families = ["django-config"]
rules = ["ci/rules"]
"""

OWN_RULE = """\
rules:
  - id: acme-no-print
    languages: [python]
    severity: INFO
    message: print() is not allowed in Acme services
    pattern: print(...)
"""


@pytest.fixture
def rule_pack_only(settings: Any) -> None:
    settings.SCANPULSE_ANALYZERS = ["scanpulse.analyzers.semgrep:SemgrepAnalyzer"]


def test_rule_pack_findings_carry_severity_and_cwe_everywhere(
    tenant, rule_pack_only, tmp_path
) -> None:
    # given: string-built SQL from request data, DEBUG on (family switched off), own rules
    repo = GitRepo(tmp_path / "repo")
    repo.write("app/views.py", VIEWS)
    repo.write("app/settings.py", SETTINGS)
    repo.write(".scanpulse.toml", CONFIG)
    repo.write("ci/rules/acme.yaml", OWN_RULE)
    repo.commit("app")

    # when
    created = start_scan(tenant, repo.path)
    scan = wait_for_scan(created["id"], timeout=180)

    # then: the API lists the taint finding as high with its CWE, and the own rule's finding
    assert scan.status == "completed", scan.error_message
    findings = tenant.client.get(f"/api/scans/{scan.id}/findings/").json()["results"]
    found = {(f["rule_id"], f["path"], f["start_line"], f["severity"]) for f in findings}
    assert found == {
        ("python-sqli-request-data", "app/views.py", 12, "high"),
        ("acme-no-print", "app/settings.py", 2, "low"),
    }
    sqli = next(f for f in findings if f["rule_id"] == "python-sqli-request-data")
    assert sqli["cwe"] == ["CWE-89"] and sqli["confidence"] == "high"
    assert next(f for f in findings if f["rule_id"] == "acme-no-print")["cwe"] == []
    # the summary lists the rule pack's version, the family switched off and the own rules
    notes = tenant.client.get(f"/api/scans/{scan.id}/").json()["summary"]["analyzers"]["semgrep"][
        "notes"
    ]
    assert notes[0].startswith("rule pack ")
    assert "families switched off: django-config" in notes[0]
    assert "custom rules: acme.yaml (1 rules)" in notes
    # SARIF: the rule and the result reference CWE-89 in the CWE taxonomy
    response = tenant.client.get(f"/api/scans/{scan.id}/sarif")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    (run,) = json.loads(body)["runs"]
    assert [taxon["id"] for taxon in run["taxonomies"][0]["taxa"]] == ["89"]
    sarif = next(r for r in run["results"] if r["ruleId"] == "python-sqli-request-data")
    assert sarif["taxa"] == [{"id": "89", "toolComponent": {"name": "CWE"}}]
    # the scan page shows the CWE next to the rule
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    page = browser.get(f"/scans/{scan.id}/").content.decode()
    assert 'python-sqli-request-data</code> <a class="cwe muted"' in page
    assert ">CWE-89</a>" in page


COMMANDS = """\
import os
import subprocess
import sys

from flask import Flask, request

app = Flask(__name__)


@app.route("/dns")
def dns():
    host = request.args.get("host", "")
    return subprocess.check_output("nslookup " + host, shell=True)


def nightly():
    subprocess.run(["git", "gc"], check=True)


def report():
    os.system("du -sh " + sys.argv[1])
"""

BANDIT = "scanpulse.analyzers.bandit:BanditAnalyzer"
RULE_PACK = "scanpulse.analyzers.semgrep:SemgrepAnalyzer"


def _completed_scan(tenant: Any, repo: GitRepo) -> Any:
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"], timeout=180)
    assert scan.status == "completed", scan.error_message
    return scan


def _rules_and_lines(tenant: Any, scan: Any) -> set[tuple[str, int]]:
    findings = tenant.client.get(f"/api/scans/{scan.id}/findings/").json()["results"]
    return {(f["rule_id"], f["start_line"]) for f in findings}


def _alert_states(tenant: Any, project_id: str) -> dict[tuple[str, int], tuple[str, str | None]]:
    url = f"/api/projects/{project_id}/alerts/?page_size=500"
    return {
        (a["rule_id"], a["start_line"]): (a["state"], a["closed_reason"])
        for a in tenant.client.get(url).json()["results"]
    }


def test_bandits_subprocess_checks_are_left_to_the_rule_pack_and_excluded_not_fixed(
    tenant, settings, tmp_path
) -> None:
    # given: a first scan with Bandit alone, which reports every subprocess call
    settings.SCANPULSE_ANALYZERS = [BANDIT]
    repo = GitRepo(tmp_path / "repo")
    repo.write("app/commands.py", COMMANDS)
    repo.commit("app")
    first = _completed_scan(tenant, repo)
    bandit_only = _rules_and_lines(tenant, first)
    assert {("B603", 17), ("B607", 17), ("B602", 13), ("B605", 21), ("B404", 2)} <= bandit_only

    # when: the rule pack runs beside Bandit on the same commit
    settings.SCANPULSE_ANALYZERS = [BANDIT, RULE_PACK]
    second = _completed_scan(tenant, repo)

    # then: the command built from request data is reported once, high, by the pack's taint
    # rule; the shell command built from an argument once, medium; the argument list not at all
    findings = tenant.client.get(f"/api/scans/{second.id}/findings/").json()["results"]
    commands = {
        (f["tool"], f["rule_id"], f["start_line"], f["severity"])
        for f in findings
        if f["rule_id"].startswith(("B4", "B6", "python-command", "python-shell"))
    }
    assert commands == {
        ("semgrep", "python-command-injection-request-data", 13, "high"),
        ("semgrep", "python-shell-command-from-values", 21, "medium"),
    }
    # ... Bandit's checks are counted as left to the pack, in the summary and the log
    summary = tenant.client.get(f"/api/scans/{second.id}/").json()["summary"]
    rules = {rule["rule"]: rule["findings"] for rule in summary["config"]["rules"]}
    assert rules["bandit B603: left to the rule pack's command-injection rules"] == 1
    assert rules["bandit B602: left to the rule pack's command-injection rules"] == 1
    assert "5 of Bandit's findings left to the rule pack." in summary["message"]
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    page = browser.get(f"/scans/{second.id}/").content.decode()
    assert "Configuration: the server's analyzer settings — 5 findings removed" in page
    events = tenant.client.get(f"/api/scans/{second.id}/events?limit=500").json()["events"]
    messages = [e["data"].get("message", "") for e in events if e["kind"] == "log"]
    assert (
        "Bandit's B404, B602, B603, B605, B607 are left to the rule pack's command-injection "
        "rules." in messages
    )
    # ... and what Bandit reported before is excluded, not fixed
    states = _alert_states(tenant, first.project_id)
    assert states[("B603", 17)] == (
        "excluded",
        "bandit B603: left to the rule pack's command-injection rules",
    )
    assert all(state != "fixed" for state, _reason in states.values())

    # when: the repository switches the pack's command-injection family off
    repo.write(".scanpulse.toml", '[rule-pack]\ndisable-families = ["command-injection"]\n')
    repo.commit("config")
    third = _completed_scan(tenant, repo)

    # then: Bandit's checks report again
    again = _rules_and_lines(tenant, third)
    assert {("B603", 17), ("B602", 13), ("B605", 21)} <= again
    assert not any(rule.startswith(("python-command", "python-shell")) for rule, _line in again)
    # ... and what the family's rules reported before is excluded, not fixed
    states = _alert_states(tenant, first.project_id)
    assert states[("python-command-injection-request-data", 13)] == (
        "excluded",
        "rule-pack family command-injection switched off (.scanpulse.toml)",
    )
    assert states[("python-shell-command-from-values", 21)][0] == "excluded"
    assert states[("B603", 17)] == ("open", None)
