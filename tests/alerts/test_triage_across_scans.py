"""Alerts and triage across real scans: a dismissal sticks on later scans of any ref, code
changes fix and reopen alerts, and every output agrees (findings, summary, SARIF, gate)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from scanpulse.cli.display import summary_lines
from scanpulse.cli.results import EXIT_FINDINGS, EXIT_OK, Gate, ScanResult
from tests.alerts.conftest import scan
from tests.support.data import fixture_data
from tests.support.repos import GitRepo

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "flag one\nflag two\nok\n"


def alerts(tenant: Any, project_id: str, query: str = "") -> dict[tuple[str, str], dict]:
    """The project's alerts by (ref, flagged line)."""
    body = tenant.client.get(f"/api/projects/{project_id}/alerts/?page_size=500&{query}").json()
    return {(alert["ref"], line_of(alert)): alert for alert in body["results"]}


def line_of(alert: dict[str, Any]) -> str:
    return CODE.splitlines()[alert["start_line"] - 1] if alert["path"] == "a.py" else "b"


def findings(tenant: Any, scan_id: str) -> list[dict[str, Any]]:
    return tenant.client.get(f"/api/scans/{scan_id}/findings/?page_size=500").json()["results"]


def sarif(tenant: Any, scan_id: str) -> dict[str, Any]:
    response = tenant.client.get(f"/api/scans/{scan_id}/sarif")
    return json.loads(b"".join(response.streaming_content))


def test_a_dismissal_sticks_across_scans_and_refs_while_code_changes(
    tenant, flags, tmp_path
) -> None:
    # given: two flagged lines in a.py, one in b.py, on main and on a branch
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", CODE)
    repo.write("b.py", "flag three\n")
    repo.commit("start")
    repo.git("branch", "dev")
    first = scan(tenant, repo)
    project = first["project"]
    listed = alerts(tenant, project)
    assert {key: a["state"] for key, a in listed.items()} == {
        ("main", "flag one"): "open",
        ("main", "flag two"): "open",
        ("main", "b"): "open",
    }
    one = listed[("main", "flag one")]
    assert one["first_seen"]["scan"] == one["last_seen"]["scan"] == first["id"]
    assert one["first_seen"]["commit_sha"] == repo.git("rev-parse", "HEAD")

    # when: the owner dismisses "flag one" as a false positive
    dismissed = tenant.client.post(
        f"/api/projects/{project}/alerts/{one['id']}/dismiss",
        {"reason": "false_positive", "comment": "only in a docstring"},
        format="json",
    )
    assert dismissed.status_code == 200, dismissed.json()
    assert dismissed.json()["state"] == "dismissed"
    assert dismissed.json()["dismissal"]["by"] == tenant.user.email
    assert set(alerts(tenant, project, "state=open")) == {("main", "flag two"), ("main", "b")}
    assert set(alerts(tenant, project, "state=dismissed")) == {("main", "flag one")}

    # then: a new scan of main keeps it dismissed, and says so everywhere
    again = scan(tenant, repo)
    assert alerts(tenant, project)[("main", "flag one")]["state"] == "dismissed"
    assert alerts(tenant, project)[("main", "flag one")]["last_seen"]["scan"] == again["id"]
    shown = {
        (f["start_line"], f["path"]): f["dismissed_reason"] for f in findings(tenant, again["id"])
    }
    assert shown == {(1, "a.py"): "false_positive", (2, "a.py"): None, (1, "b.py"): None}
    summary = again["summary"]
    assert (summary["new"], summary["unchanged"], summary["dismissed"]) == (0, 2, 1)
    assert summary["severity"]["medium"] == 2 and again["findings_count"] == 2
    assert summary["message"] == "0 new, 2 unchanged, 0 fixed findings; 1 dismissed."

    # ... and a scan of another ref finds it dismissed there too
    scan(tenant, repo, ref="dev")
    on_dev = alerts(tenant, project, "ref=dev")
    assert {key: a["state"] for key, a in on_dev.items()} == {
        ("dev", "flag one"): "dismissed",
        ("dev", "flag two"): "open",
        ("dev", "b"): "open",
    }

    # when: a change removes "flag two" and "flag one"
    repo.write("a.py", "ok\nok\nok\n")
    repo.commit("remove the flags")
    removed = scan(tenant, repo)
    # then: "flag two" is fixed; "flag one" stays dismissed (the dismissal holds), on main only
    main = alerts(tenant, project, "ref=main")
    assert main[("main", "flag two")]["state"] == "fixed"
    assert main[("main", "flag two")]["fixed_at"] is not None
    assert main[("main", "flag two")]["fixed_in_scan"] == removed["id"]
    assert main[("main", "flag one")]["state"] == "dismissed"
    assert set(alerts(tenant, project, "state=fixed")) == {("main", "flag two")}
    assert alerts(tenant, project, "ref=dev")[("dev", "flag two")]["state"] == "open"

    # when: both lines come back
    repo.write("a.py", CODE)
    repo.commit("bring them back")
    back = scan(tenant, repo)
    # then: the fixed alert is open again (the same alert), the dismissed one still dismissed
    main = alerts(tenant, project, "ref=main")
    assert main[("main", "flag two")]["state"] == "open"
    assert main[("main", "flag two")]["id"] == listed[("main", "flag two")]["id"]
    assert main[("main", "flag two")]["fixed_at"] is None
    assert main[("main", "flag two")]["first_seen"]["scan"] == first["id"]
    assert main[("main", "flag two")]["last_seen"]["scan"] == back["id"]
    assert main[("main", "flag one")]["state"] == "dismissed"


def test_sarif_carries_suppressions_and_the_gate_ignores_dismissed_findings(
    tenant, flags, tmp_path
) -> None:
    # given: a scanned repository with two medium findings, one of them dismissed
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag one\nflag two\n")
    repo.commit()
    project = scan(tenant, repo)["project"]
    listed = alerts(tenant, project)
    response = tenant.client.post(
        f"/api/projects/{project}/alerts/{listed[('main', 'flag one')]['id']}/dismiss",
        {"reason": "used_in_tests", "comment": "fixture data"},
        format="json",
    )
    assert response.status_code == 200
    # when
    rescanned = scan(tenant, repo)
    # then: the report is valid SARIF 2.1.0 and suppresses exactly the dismissed result
    document = sarif(tenant, rescanned["id"])
    schema = json.loads(fixture_data("sarif", "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    results = {
        result["message"]["text"]
        + str(result["locations"][0]["physicalLocation"]["region"]): result
        for run in document["runs"]
        for result in run["results"]
    }
    suppressed = [r for r in results.values() if "suppressions" in r]
    assert len(results) == 2 and len(suppressed) == 1
    assert suppressed[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert suppressed[0]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "used_in_tests: fixture data"}
    ]
    # ... the gate counts the open finding only, by the API and by the command line
    gate = tenant.client.get(f"/api/scans/{rescanned['id']}/gate?fail_on=medium").json()
    assert (gate["passed"], gate["matching"]) == (False, 1)
    result = ScanResult(scan=rescanned, findings=findings(tenant, rescanned["id"]))
    assert result.exit_code(Gate(fail_on="medium")) == EXIT_FINDINGS
    counts = result.counts(Gate(fail_on="medium"))
    assert (counts["findings"], counts["dismissed"], counts["gate"]["matching"]) == (1, 1, 1)
    lines = [text for text, _style in summary_lines(result, Gate(fail_on="medium"))]
    assert lines[1].startswith("Findings: 1 (0 new, 1 unchanged; 0 fixed; 1 dismissed) — ")
    assert lines[-1].startswith("Gate: 1 findings at or above medium: failing")

    # when: the other one is dismissed too, and the repository scanned again
    response = tenant.client.post(
        f"/api/projects/{project}/alerts/{listed[('main', 'flag two')]['id']}/dismiss",
        {"reason": "wont_fix"},
        format="json",
    )
    assert response.status_code == 200
    last = scan(tenant, repo)
    # then: the gate passes, everywhere
    gate = tenant.client.get(f"/api/scans/{last['id']}/gate?fail_on=low").json()
    assert (gate["passed"], gate["matching"]) == (True, 0)
    result = ScanResult(scan=last, findings=findings(tenant, last["id"]))
    assert result.exit_code(Gate(fail_on="low")) == EXIT_OK
    assert last["findings_count"] == 0 and last["summary"]["dismissed"] == 2
    justifications = sorted(
        result["suppressions"][0]["justification"]
        for run in sarif(tenant, last["id"])["runs"]
        for result in run["results"]
    )
    assert justifications == ["used_in_tests: fixture data", "wont_fix"]


@pytest.mark.usefixtures("flags")
def test_an_alert_in_a_file_the_analyzer_could_not_read_is_not_fixed(tenant, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "flag high one\n")
    repo.commit("start")
    first = scan(tenant, repo)
    ((alert_id, state),) = [
        (a["id"], a["state"])
        for a in tenant.client.get(f"/api/projects/{first['project']}/alerts/").json()["results"]
    ]
    assert state == "open"

    # when: the analyzer cannot read the file any more: not finding it there says nothing
    repo.write("a.py", "flag high one\nbroken\n")
    repo.commit("unreadable")
    unreadable = scan(tenant, repo)
    assert unreadable["complete"] is False
    alert = tenant.client.get(f"/api/projects/{first['project']}/alerts/{alert_id}/").json()
    assert alert["state"] == "open" and alert["fixed_at"] is None

    # then: readable again, the alert is the same open one, and nothing is new to a gate
    repo.write("a.py", "flag high one\n")
    repo.commit("readable")
    again = scan(tenant, repo)
    alert = tenant.client.get(f"/api/projects/{first['project']}/alerts/{alert_id}/").json()
    assert alert["state"] == "open" and alert["last_seen"]["scan"] == again["id"]
    assert alert["first_seen"]["scan"] == first["id"]
