"""Vulnerable dependencies through real scans: one finding and one alert per package version,
listing its advisories and the upgrade; a version bump fixes the alert and opens another."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from django.utils import timezone

from scanpulse.alerts.models import Alert, Dismissal
from scanpulse.projects.models import Project
from scanpulse.scans.models import Finding, FindingStatus, Scan, ScanStatus
from tests.analyzers.dependencies.test_analyzer import DJANGO_3_2_0
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


def _pre_grouping_fingerprint(advisory: str, requirement: str, path: str = "requirements.txt"):
    """The fingerprint the analyzer gave one advisory of a pinned package before grouping:
    tool, the advisory's id as the rule, the manifest, the requirement as normalized then and
    the occurrence, hashed as a JSON array (first 32 hex digits of its sha256)."""
    payload = json.dumps(
        ["dependencies", advisory, path, requirement, 0], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def test_grouping_supersedes_per_advisory_alerts_and_carries_a_full_dismissal_over(
    tenant, advisories, dependencies_only, tmp_path
) -> None:
    # given: a project scanned before findings were grouped, as those scans stored it: one
    # finding and one alert per advisory of django 3.2.0 (25) and jinja2 2.10 (2); the team
    # dismissed every django advisory, but only one of jinja2's
    repo = GitRepo(tmp_path / "repo")
    repo.write("requirements.txt", "django==3.2.0\njinja2==2.10\n")
    repo.commit("pins")
    created = tenant.client.post(
        "/api/projects/", {"name": "app", "repo_url": str(repo.path)}, format="json"
    ).json()
    project = Project.objects.get(pk=created["id"])
    now = timezone.now() - timedelta(days=30)
    old_scan = Scan.objects.create(
        project=project,
        organization=project.organization,
        ref="main",
        status=ScanStatus.COMPLETED,
        finished_at=now,
        summary={"new": 27, "unchanged": 0, "fixed": 0},
    )
    Scan.objects.filter(pk=old_scan.pk).update(created_at=now)
    olds: dict[str, str] = {}
    position = 0
    for package, version, line, ids in (
        ("django", "3.2.0", 1, DJANGO_3_2_0),
        ("jinja2", "2.10", 2, ["PYSEC-2019-217", "PYSEC-2021-66"]),
    ):
        for advisory in ids:
            fingerprint = _pre_grouping_fingerprint(advisory, f"{package}=={version}")
            olds[advisory] = fingerprint
            message = f"{package} {version} is affected by {advisory}: an advisory."
            Finding.objects.create(
                scan=old_scan,
                tool="dependencies",
                rule_id=advisory,
                severity="high",
                confidence="high",
                path="requirements.txt",
                start_line=line,
                end_line=line,
                message=message,
                fingerprint=fingerprint,
                status=FindingStatus.NEW,
                properties={"package": package, "version": version, "ecosystem": "PyPI"},
                position=position,
            )
            position += 1
            Alert.objects.create(
                project=project,
                ref="main",
                fingerprint=fingerprint,
                tool="dependencies",
                rule_id=advisory,
                severity="high",
                path="requirements.txt",
                start_line=line,
                end_line=line,
                message=message,
                first_seen_scan=old_scan.pk,
                first_seen_at=now,
                last_seen_scan=old_scan.pk,
                last_seen_at=now,
            )
    client = tenant.client
    by_id = {a["rule_id"]: a["id"] for a in alerts_of(client, project.pk)}
    assert len(by_id) == 27
    bulk = client.post(
        f"/api/projects/{project.pk}/alerts/triage",
        {
            "alerts": [by_id[a] for a in [*DJANGO_3_2_0, "PYSEC-2019-217"]],
            "action": "dismiss",
            "reason": "false_positive",
            "comment": "not reachable from our code",
        },
        format="json",
    )
    assert bulk.status_code == 200, bulk.json()

    # when: the first scan that groups them
    done = scan(tenant, repo)

    # then: the per-advisory alerts are superseded, not fixed, and say by what
    states = {a["rule_id"]: (a["state"], a["closed_reason"]) for a in alerts_of(client, project.pk)}
    for advisory in DJANGO_3_2_0:
        state, reason = states[advisory]
        assert state == "dismissed"  # their own dismissal still shows
        assert reason.startswith("grouped into one alert per package version: upgrade django 3.2.0")
    assert states["PYSEC-2021-66"][0] == "superseded"
    assert "jinja2 2.10" in states["PYSEC-2021-66"][1]
    assert not any(state == "fixed" for state, _ in states.values())
    # ... the summary counts none of them fixed, all 27 apart
    assert (done["summary"]["fixed"], done["summary"]["superseded"]) == (0, 27)
    assert "27 grouped per package version" in done["summary"]["message"]
    # ... django's grouped alert is dismissed, carried over, with its history saying so
    grouped = alerts(tenant, str(project.pk), "rule=SP-DEP-VULNERABLE")
    django, jinja2 = grouped["django 3.2.0"], grouped["jinja2 2.10"]
    assert django["state"] == "dismissed"
    assert django["dismissal"]["reason"] == "false_positive"
    assert django["dismissal"]["by"] is None
    history = client.get(f"/api/projects/{project.pk}/alerts/{django['id']}/").json()["history"]
    (entry,) = history
    assert entry["action"] == "dismissed"
    assert entry["comment"].startswith(
        "carried over from the dismissals of its 25 advisories before they were grouped: "
    )
    assert entry["comment"].endswith("(not reachable from our code)")
    # ... jinja2's is open: one of its two advisories only was dismissed, and it says so
    assert (jinja2["state"], jinja2["dismissal"]) == ("open", None)
    history = client.get(f"/api/projects/{project.pk}/alerts/{jinja2['id']}/").json()["history"]
    assert [(h["action"], h["comment"]) for h in history] == [
        (
            "note",
            "dismissal not carried over: 1 of 2 advisories were dismissed before they were "
            "grouped (PYSEC-2019-217); not dismissed: PYSEC-2021-66",
        )
    ]
    # ... and the scan's own totals already agree: django's finding is dismissed in it
    assert done["findings_count"] == 1
    assert done["summary"]["dismissed"] == 1
    old = client.get(f"/api/projects/{project.pk}/alerts/{by_id['PYSEC-2021-66']}/").json()
    assert old["history"][0]["action"] == "superseded"

    # when: scanned again
    again = scan(tenant, repo)

    # then: nothing is carried or superseded twice
    assert again["summary"]["superseded"] == 0
    history = client.get(f"/api/projects/{project.pk}/alerts/{django['id']}/").json()["history"]
    assert len(history) == 1
    assert Dismissal.objects.filter(project=project).count() == 26 + 1


def alerts_of(client: Any, project_id: Any) -> list[dict[str, Any]]:
    return client.get(f"/api/projects/{project_id}/alerts/?page_size=100").json()["results"]
