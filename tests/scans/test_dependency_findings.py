"""Vulnerable dependencies through real scans: one finding and one alert per package version,
listing its advisories and the upgrade; a version bump fixes the alert and opens another."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.data import fixture_data
from tests.support.repos import GitRepo

pytestmark = pytest.mark.django_db(transaction=True)

VULNERABLE = "SP-DEP-VULNERABLE"


@pytest.fixture
def dependencies_only(settings: Any) -> None:
    settings.SCANPULSE_ANALYZERS = [
        "scanpulse.analyzers.dependencies.analyzer:DependenciesAnalyzer"
    ]


def scan(tenant: Any, repo: GitRepo) -> dict[str, Any]:
    created = start_scan(tenant, repo.path)
    finished = wait_for_scan(created["id"])
    assert finished.status == "completed", finished.error_message
    return tenant.client.get(f"/api/scans/{created['id']}/").json()


def alerts(tenant: Any, project: str, query: str = "") -> dict[str, dict[str, Any]]:
    """The project's alerts by the package version they are about (from their message)."""
    body = tenant.client.get(f"/api/projects/{project}/alerts/?page_size=100&{query}").json()
    return {_package(alert["message"]): alert for alert in body["results"]}


def _package(message: str) -> str:
    words = message.removeprefix("upgrade ").split()
    return f"{words[0]} {words[1]}"


def test_one_alert_per_vulnerable_package_version_until_it_is_upgraded(
    tenant, advisories, dependencies_only, tmp_path
) -> None:
    # given: django 3.2.0 (25 advisories) and jinja2 2.10 (2) pinned
    repo = GitRepo(tmp_path / "repo")
    repo.write("requirements.txt", "django==3.2.0\njinja2==2.10\n")
    repo.commit("pins")

    # when
    first = scan(tenant, repo)

    # then: two findings, not 27 rows; each lists its advisories and the upgrade
    findings = tenant.client.get(f"/api/scans/{first['id']}/findings/").json()["results"]
    assert [(f["rule_id"], f["severity"], f["start_line"]) for f in findings] == [
        (VULNERABLE, "high", 1),
        (VULNERABLE, "high", 2),
    ]
    django, jinja2 = findings
    assert django["message"].startswith(
        "upgrade django 3.2.0 → 3.2.25 fixes 25 advisories: PYSEC-2021-7, PYSEC-2021-8, "
    )
    assert jinja2["message"] == (
        "upgrade jinja2 2.10 → 2.11.3 fixes 2 advisories: PYSEC-2019-217, PYSEC-2021-66"
    )
    assert len(django["properties"]["advisories"]) == 25
    assert django["properties"]["advisories"][2]["id"] == "PYSEC-2021-98"
    assert first["findings_count"] == 2
    project = first["project"]
    opened = alerts(tenant, project)
    assert {key: (a["rule_id"], a["state"]) for key, a in opened.items()} == {
        "django 3.2.0": (VULNERABLE, "open"),
        "jinja2 2.10": (VULNERABLE, "open"),
    }

    # ... the SARIF report has one result for each, valid against the schema
    response = tenant.client.get(f"/api/scans/{first['id']}/sarif")
    document = json.loads(b"".join(response.streaming_content))
    schema = json.loads(fixture_data("sarif", "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    (run,) = document["runs"]
    assert [r["ruleId"] for r in run["results"]] == [VULNERABLE, VULNERABLE]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        VULNERABLE,
        "SP-DEP-UNPINNED",
    ]

    # when: jinja2's risk is accepted for now, a comment moves the pins and django is upgraded
    dismissed = tenant.client.post(
        f"/api/projects/{project}/alerts/{opened['jinja2 2.10']['id']}/dismiss",
        {"reason": "wont_fix", "comment": "templates are ours"},
        format="json",
    )
    assert dismissed.status_code == 200, dismissed.json()
    repo.write("requirements.txt", "# web\ndjango==3.2.4\njinja2==2.10\n")
    repo.commit("django 3.2.4")
    second = scan(tenant, repo)

    # then: the old version's alert is fixed, the new one is a new alert, jinja2 stays dismissed
    after = alerts(tenant, project)
    assert {key: a["state"] for key, a in after.items()} == {
        "django 3.2.0": "fixed",
        "django 3.2.4": "open",
        "jinja2 2.10": "dismissed",
    }
    assert after["django 3.2.0"]["fixed_in_scan"] == second["id"]
    assert after["jinja2 2.10"]["id"] == opened["jinja2 2.10"]["id"]
    assert after["jinja2 2.10"]["start_line"] == 3
    assert after["django 3.2.4"]["message"].startswith(
        "upgrade django 3.2.4 → 3.2.25 fixes 21 advisories: PYSEC-2021-109, "
    )
