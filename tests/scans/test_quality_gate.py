"""A project's quality gate: set by owners and admins, evaluated when each scan completes on the
alerts it just synced, stored with the scan and shown everywhere the scan is (API, gate
endpoint, terminal event, snapshot, page)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from scanpulse.pipeline.coverage import Coverage
from scanpulse.projects.gate import QualityGate
from scanpulse.scans.gate import gate_evaluate
from scanpulse.scans.log import read_org_events
from scanpulse.scans.models import Scan
from scanpulse.tenancy.models import Role
from tests.alerts.conftest import client_for, scan
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.analyzers import PLUGINS
from tests.support.repos import GitRepo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flags(settings: Any) -> None:
    """One analyzer, in microseconds: lines starting ``flag high`` are high findings, other
    lines starting ``flag`` medium ones, and a file saying ``broken`` is not analyzed."""
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = ["flagging:FlagAnalyzer"]


# The default policy: a complete scan required, no other condition.
DEFAULT_POLICY = {
    "no_new_alerts_at_or_above": None,
    "no_secrets": False,
    "no_fixable_dependency_alerts_older_than_days": None,
    "max_open_alerts": None,
    "require_complete": True,
}


def set_policy(client: Any, project_id: str, policy: dict[str, Any]) -> Any:
    return client.patch(f"/api/projects/{project_id}/", {"gate_policy": policy}, format="json")


def alert_ids(tenant: Any, project_id: str, query: str = "") -> list[str]:
    body = tenant.client.get(f"/api/projects/{project_id}/alerts/?{query}").json()
    return [alert["id"] for alert in body["results"]]


def terminal_event(tenant: Any, scan_id: str) -> dict[str, Any]:
    page = tenant.client.get(f"/api/scans/{scan_id}/events?limit=500").json()
    (event,) = [e for e in page["events"] if e["kind"] in ("completed", "failed", "cancelled")]
    return dict(event)


def test_no_new_high_fails_the_scan_that_introduces_one_and_passes_the_next(
    tenant, flags, tmp_path
) -> None:
    # given: a project whose gate refuses new alerts at or above high
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\nflag medium\n")
    repo.commit("start")
    repo.git("branch", "dev")
    project = tenant.client.post(
        "/api/projects/", {"name": "app", "repo_url": str(repo.path)}, format="json"
    ).json()
    assert project["gate_policy"] == DEFAULT_POLICY  # the default: a complete scan only
    changed = set_policy(tenant.client, project["id"], {"no_new_alerts_at_or_above": "high"})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["gate_policy"] == DEFAULT_POLICY | {"no_new_alerts_at_or_above": "high"}

    # when: the first scan introduces the high alert (and a medium one)
    first = scan(tenant, repo)

    # then: it fails, naming the condition, the count and the alert
    (high,) = alert_ids(tenant, project["id"], "severity=high")
    gate = first["gate"]
    assert gate["passed"] is False
    assert gate["reasons"] == ["1 new alert at or above high"]
    assert gate["policy"]["no_new_alerts_at_or_above"] == "high"
    condition, complete = gate["conditions"]
    assert (complete["condition"], complete["passed"]) == ("require_complete", True)
    assert condition["condition"] == "no_new_alerts_at_or_above"
    assert (condition["passed"], condition["count"], condition["alerts"]) == (False, 1, [high])
    assert len(condition["findings"]) == 1
    finding = tenant.client.get(f"/api/scans/{first['id']}/findings/?severity=high").json()
    assert condition["findings"] == [finding["results"][0]["id"]]

    # ... the same verdict in the gate endpoint, the terminal event and the snapshot
    endpoint = tenant.client.get(f"/api/scans/{first['id']}/gate").json()
    assert endpoint["source"] == "project"
    assert (endpoint["passed"], endpoint["reasons"], endpoint["matching"]) == (
        False,
        ["1 new alert at or above high"],
        1,
    )
    assert endpoint["conditions"] == gate["conditions"]
    event = terminal_event(tenant, first["id"])
    assert event["kind"] == "completed" and event["data"]["gate"] == gate
    assert tenant.client.get(f"/api/scans/{first['id']}/status").json()["gate"] == gate
    org_events = [
        e.org_client_payload()
        for e in read_org_events(org_id=tenant.org.pk, after=0)
        if e.scan_id == first["id"] and e.is_terminal
    ]
    assert [e["data"]["gate"] for e in org_events] == [gate]  # what the org stream sends
    # ... and the query parameters still evaluate a gate of their own
    asked = tenant.client.get(f"/api/scans/{first['id']}/gate?fail_on=critical").json()
    assert (asked["source"], asked["passed"], asked["policy"]) == ("query", True, None)

    # when: scanned again, unchanged
    second = scan(tenant, repo)

    # then: the high alert is not new any more: it passes
    assert second["gate"]["passed"] is True
    assert second["gate"]["reasons"] == []
    assert second["gate"]["conditions"][0]["message"] == "no new alert at or above high"
    assert tenant.client.get(f"/api/scans/{second['id']}/gate").json()["passed"] is True

    # when: the high alert is dismissed, and another ref, where it is new, is scanned
    dismissed = tenant.client.post(
        f"/api/projects/{project['id']}/alerts/{high}/dismiss",
        {"reason": "false_positive"},
        format="json",
    )
    assert dismissed.status_code == 200
    on_dev = scan(tenant, repo, ref="dev")

    # then: a dismissed alert does not fail it
    assert on_dev["gate"]["passed"] is True, on_dev["gate"]

    # when: a new high alert appears on main
    repo.write("a.py", "flag high one\nflag medium\nflag high two\n")
    repo.commit("another")
    third = scan(tenant, repo)

    # then: only the new one counts
    assert third["gate"]["reasons"] == ["1 new alert at or above high"]

    # ... and the scan page says so
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    page = browser.get(f"/scans/{third['id']}/").content.decode()
    assert 'data-gate="failed"' in page
    assert "Quality gate: failed" in page and "1 new alert at or above high" in page


def test_secrets_open_alerts_and_completeness(tenant, settings, tmp_path) -> None:
    # given: flagged lines, a secret and a file the analyzer cannot read
    settings.SCANPULSE_ANALYZER_PATHS = [str(PLUGINS)]
    settings.SCANPULSE_ANALYZERS = [
        "flagging:FlagAnalyzer",
        "scanpulse.analyzers.secrets:SecretsAnalyzer",
    ]
    key = "AKIAIOSFODNN7EXAMPLE"
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", f'flag one\nflag two\nAWS_KEY = "{key}"\n')
    repo.write("b.py", "broken\n")
    repo.commit("start")
    project = tenant.client.post(
        "/api/projects/", {"name": "app", "repo_url": str(repo.path)}, format="json"
    ).json()
    policy = {
        "no_secrets": True,
        "max_open_alerts": {"severity": "medium", "count": 1},
        "require_complete": True,
    }
    assert set_policy(tenant.client, project["id"], policy).status_code == 200
    created = start_scan(tenant, repo.path)
    finished = wait_for_scan(created["id"])
    assert finished.status == "completed", finished.error_message

    gate = tenant.client.get(f"/api/scans/{created['id']}/").json()["gate"]

    assert gate["passed"] is False
    by_condition = {c["condition"]: c for c in gate["conditions"]}
    assert list(by_condition) == ["no_secrets", "max_open_alerts", "require_complete"]
    assert (by_condition["no_secrets"]["count"], by_condition["no_secrets"]["message"]) == (
        1,
        "1 secret found",
    )
    assert by_condition["max_open_alerts"]["count"] == 3
    assert by_condition["max_open_alerts"]["message"] == (
        "3 open alerts at or above medium (at most 1 allowed)"
    )
    assert by_condition["require_complete"]["passed"] is False
    assert by_condition["require_complete"]["message"].startswith("the scan is incomplete: ")
    assert key not in json.dumps(gate)  # counts and ids, never a secret value


def test_fixable_dependency_alerts_age_by_the_advisory(
    tenant, advisories, settings, tmp_path
) -> None:
    # given: a scan that found django 3.2.0's advisories (published in 2021 and later)
    settings.SCANPULSE_ANALYZERS = [
        "scanpulse.analyzers.dependencies.analyzer:DependenciesAnalyzer"
    ]
    repo = GitRepo(tmp_path / "repo")
    repo.write("requirements.txt", "django==3.2.0\n")
    repo.commit("start")
    done = scan(tenant, repo)
    row = Scan.objects.get(pk=done["id"])
    coverage = Coverage.from_summary(row.summary)

    def verdict(days: int, *, now: Any = None) -> dict[str, Any]:
        policy = QualityGate(no_fixable_dependency_alerts_older_than_days=days)
        return gate_evaluate(scan=row, policy=policy, coverage=coverage, new=None, now=now)

    findings = tenant.client.get(f"/api/scans/{done['id']}/findings/?page_size=500").json()
    (django,) = [f for f in findings["results"] if f["rule_id"] == "SP-DEP-VULNERABLE"]
    left = set(django["properties"]["not_fixed_by_upgrade"])
    fixed = [
        advisory
        for advisory in django["properties"]["advisories"]
        if advisory["fixed_versions"] and advisory["id"] not in left
    ]
    assert len(fixed) > 1
    first = min(datetime.fromisoformat(advisory["published"]) for advisory in fixed)

    # then: today, a month is long past for the package's fix
    month = verdict(30)
    assert month["passed"] is False
    assert month["conditions"][0]["count"] == 1
    assert month["reasons"] == ["1 dependency alert with a fix known for more than 30 days"]
    # ... not yet thirty days after its first fixed advisory was published, then past them
    assert verdict(30, now=first + timedelta(days=30) - timedelta(seconds=1))["passed"] is True
    assert verdict(30, now=first + timedelta(days=30, seconds=1))["passed"] is False
    # ... and none was known ten years ago
    assert verdict(3650)["passed"] is True
    assert verdict(0, now=datetime(2016, 1, 1, tzinfo=UTC))["passed"] is True


def test_the_default_policy_fails_an_incomplete_scan_and_passes_a_complete_one(
    tenant, flags, tmp_path
) -> None:
    # given: a new project, its policy untouched, and a file the analyzer cannot read
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\n")
    repo.write("b.py", "broken\n")  # incomplete
    repo.commit("start")

    # when
    done = scan(tenant, repo)

    # then: the default gate fails it, for that reason alone, whatever it found
    assert done["complete"] is False
    assert done["gate"]["passed"] is False
    assert done["gate"]["policy"] == DEFAULT_POLICY
    (condition,) = done["gate"]["conditions"]
    assert condition["condition"] == "require_complete" and condition["passed"] is False
    assert done["gate"]["reasons"][0].startswith("the scan is incomplete: ")
    endpoint = tenant.client.get(f"/api/scans/{done['id']}/gate").json()
    assert (endpoint["source"], endpoint["passed"], endpoint["complete"]) == (
        "project",
        False,
        False,
    )
    assert endpoint["matching"] == 0  # no alert counts against it: the gaps do

    # when: the file becomes readable, and the project is scanned again
    repo.write("b.py", "fine\n")
    repo.commit("readable")
    again = scan(tenant, repo)

    # then: complete, it passes (a high alert is no condition of the default)
    assert again["complete"] is True
    assert (again["gate"]["passed"], again["gate"]["reasons"]) == (True, [])

    # when: the team turns the condition off explicitly
    project_id = again["project"]
    off = set_policy(tenant.client, project_id, {"require_complete": False})

    # then: it is off, and stays off (not the default again)
    assert off.json()["gate_policy"] == DEFAULT_POLICY | {"require_complete": False}
    stored = tenant.client.get(f"/api/projects/{project_id}/").json()["gate_policy"]
    assert stored["require_complete"] is False


def test_a_scan_that_did_not_complete_fails_the_gate(tenant, tmp_path) -> None:
    (tmp_path / "not-a-repository").mkdir()
    created = start_scan(tenant, tmp_path / "not-a-repository")
    finished = wait_for_scan(created["id"])
    assert finished.status == "failed"
    gate = tenant.client.get(f"/api/scans/{created['id']}/").json()["gate"]
    assert (gate["passed"], gate["reasons"]) == (False, ["the scan failed"])
    assert terminal_event(tenant, created["id"])["data"]["gate"] == gate


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"no_new_alerts_at_or_above": "severe"}, "gate_policy.no_new_alerts_at_or_above"),
        ({"no_new_alerts_at_or_above": "info"}, "gate_policy.no_new_alerts_at_or_above"),
        ({"no_secrets": "yes"}, "gate_policy.no_secrets"),
        (
            {"no_fixable_dependency_alerts_older_than_days": -1},
            "gate_policy.no_fixable_dependency_alerts_older_than_days",
        ),
        ({"max_open_alerts": {"severity": "high"}}, "gate_policy.max_open_alerts.count"),
        (
            {"max_open_alerts": {"severity": "x", "count": 1}},
            "gate_policy.max_open_alerts.severity",
        ),
        ({"no_new_high": True}, "gate_policy.no_new_high"),
        (["no_secrets"], "gate_policy"),
    ],
)
def test_an_invalid_policy_is_a_400_naming_the_field(tenant, tmp_path, policy, field) -> None:
    project = tenant.client.post(
        "/api/projects/", {"name": "app", "repo_url": str(tmp_path)}, format="json"
    ).json()
    response = set_policy(tenant.client, project["id"], policy)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    stored = tenant.client.get(f"/api/projects/{project['id']}/").json()["gate_policy"]
    assert stored == DEFAULT_POLICY


def test_only_owners_and_admins_change_the_gate(tenant, other_tenant, tmp_path) -> None:
    project = tenant.client.post(
        "/api/projects/", {"name": "app", "repo_url": str(tmp_path)}, format="json"
    ).json()
    url = f"/api/projects/{project['id']}/"
    policy = {"no_secrets": True}

    for role in (Role.VIEWER, Role.MEMBER):
        client = client_for(tenant, f"{role}@acme.example", role)
        refused = set_policy(client, project["id"], policy)
        assert refused.status_code == 403, role
        assert client.get(url).json()["gate_policy"] == DEFAULT_POLICY
    member = client_for(tenant, "writer@acme.example", Role.MEMBER)
    assert member.patch(url, {"name": "renamed"}, format="json").status_code == 200
    assert set_policy(other_tenant.client, project["id"], policy).status_code == 404

    admin = client_for(tenant, "admin@acme.example", Role.ADMIN)
    allowed = set_policy(admin, project["id"], policy)
    assert allowed.status_code == 200
    # a change names only what it changes; null turns a condition off
    again = set_policy(admin, project["id"], {"require_complete": False})
    assert again.json()["gate_policy"] == DEFAULT_POLICY | {
        "no_secrets": True,
        "require_complete": False,
    }
    off = set_policy(admin, project["id"], {"no_secrets": None})
    assert off.json()["gate_policy"] == DEFAULT_POLICY | {"require_complete": False}


def test_an_alert_failing_two_conditions_counts_once_in_matching(tenant, flags, tmp_path) -> None:
    # given: a gate refusing new high alerts and any open high alert
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\nflag high two\nflag medium\n")
    repo.commit("start")
    project = tenant.client.post(
        "/api/projects/", {"name": "app", "repo_url": str(repo.path)}, format="json"
    ).json()
    policy = {
        "no_new_alerts_at_or_above": "high",
        "max_open_alerts": {"severity": "high", "count": 0},
    }
    assert set_policy(tenant.client, project["id"], policy).status_code == 200

    # when: the first scan finds two high alerts, new and open, and a medium one
    done = scan(tenant, repo)

    # then: each failed condition counts both, the gate's matching counts them once
    failed = [c for c in done["gate"]["conditions"] if not c["passed"]]
    assert [(c["condition"], c["count"]) for c in failed] == [
        ("no_new_alerts_at_or_above", 2),
        ("max_open_alerts", 2),
    ]
    assert done["gate"]["matching"] == 2
    endpoint = tenant.client.get(f"/api/scans/{done['id']}/gate").json()
    assert (endpoint["passed"], endpoint["matching"]) == (False, 2)
    assert sorted(failed[0]["alerts"]) == sorted(alert_ids(tenant, project["id"], "severity=high"))

    # ... and a verdict stored before the number was kept reads the same
    Scan.objects.filter(pk=done["id"]).update(
        gate={key: value for key, value in done["gate"].items() if key != "matching"}
    )
    again = tenant.client.get(f"/api/scans/{done['id']}/gate").json()
    assert again["matching"] == 2


def test_stored_policies_require_a_complete_scan_after_the_upgrade(tenant, tmp_path) -> None:
    # given: the database before the default changed, with a policy that only refused
    # secrets (the old default's require_complete false stored with it) and one stored empty
    before = [("projects", "0005_project_credential")]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        projects = old.get_model("projects", "Project").objects
        stored = projects.create(
            organization_id=tenant.org.pk,
            name="stored",
            repo_url=str(tmp_path),
            gate_policy=DEFAULT_POLICY | {"no_secrets": True, "require_complete": False},
        )
        empty = projects.create(
            organization_id=tenant.org.pk, name="empty", repo_url=str(tmp_path), gate_policy={}
        )
    finally:
        # when: migrating forward
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    # then: both require a complete scan, the stored one keeps its other condition
    def policy(pk: Any) -> Any:
        return tenant.client.get(f"/api/projects/{pk}/").json()["gate_policy"]

    assert policy(stored.pk) == DEFAULT_POLICY | {"no_secrets": True}
    assert policy(empty.pk) == DEFAULT_POLICY
