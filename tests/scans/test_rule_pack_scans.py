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
