"""Bring your own scanner: SARIF 2.1.0 reports of CodeQL, Semgrep, Trivy, gitleaks and ESLint
(tests/fixtures/sarif-reports, see the fixtures' README) uploaded as scans of their own tools,
with live progress, fingerprints stable from one upload to the next, triage that sticks and
the gate; refusals (schema, size, paths) that leave nothing behind; roles, tenants, audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from scanpulse.alerts.models import Alert
from scanpulse.audit.models import AuditEntry
from scanpulse.projects.models import Project
from scanpulse.scans.log import read_events
from scanpulse.scans.models import Finding, Scan
from scanpulse.tenancy.models import Role
from tests.alerts.conftest import client_for
from tests.scans.conftest import wait_for_scan
from tests.support.data import fixture_data

pytestmark = pytest.mark.django_db(transaction=True)


def report(name: str) -> bytes:
    return fixture_data("sarif-reports", f"{name}.sarif").read_bytes()


@pytest.fixture
def project(tenant: Any, tmp_path: Path, settings: Any) -> Project:
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    return Project.objects.create(organization=tenant.org, name="web", repo_url=str(tmp_path))


def upload(client: Any, project: Project, body: bytes, query: str = "") -> Any:
    return client.post(
        f"/api/projects/{project.id}/sarif{query}", data=body, content_type="application/sarif+json"
    )


def uploaded(tenant: Any, project: Project, name: str, query: str = "") -> Scan:
    response = upload(tenant.client, project, report(name), query)
    assert response.status_code == 201, response.json()
    scan = wait_for_scan(response.json()["id"])
    assert scan.status == "completed", scan.error_message
    return scan


def findings(tenant: Any, scan: Scan) -> list[dict[str, Any]]:
    body = tenant.client.get(f"/api/scans/{scan.id}/findings/?page_size=500").json()
    return sorted(body["results"], key=lambda f: (f["path"], f["start_line"] or 0, f["rule_id"]))


@pytest.mark.parametrize(
    ("name", "query", "tool", "expected"),
    [
        (
            "codeql",
            "",
            "CodeQL",
            [
                ("py/reflective-xss", "medium", "high", "app/pages.py", 9, ["CWE-79", "CWE-116"]),
                ("py/sql-injection", "high", "high", "app/views.py", 14, ["CWE-89"]),
            ],
        ),
        (
            "semgrep",
            "",
            "Semgrep OSS",
            [
                ("rules.python-sqli-request-data", "high", "high", "app/views.py", 12, ["CWE-89"]),
                (
                    "rules.python-open-redirect-request-data",
                    "high",
                    "high",
                    "app/views.py",
                    17,
                    ["CWE-601"],
                ),
            ],
        ),
        (
            "trivy",
            "",
            "Trivy",
            [
                ("DS002", "high", "high", "Dockerfile", 1, []),
                ("CVE-2023-43804", "high", "high", "requirements.txt", 3, []),
            ],
        ),
        (
            "gitleaks",
            "",
            "gitleaks",
            [
                ("aws-access-token", "medium", "medium", "config/settings.py", 12, []),
                ("generic-api-key", "medium", "medium", "deploy/env.sh", 4, []),
            ],
        ),
        (
            "eslint",
            "?root=/home/dev/webapp",
            "ESLint",
            [
                ("no-unused-vars", "medium", "medium", "src/render.js", 3, []),
                ("no-var", "high", "medium", "src/render.js", 3, []),
                ("no-eval", "high", "medium", "src/render.js", 6, []),
            ],
        ),
    ],
)
def test_each_tools_report_becomes_a_scan_of_that_tool(
    tenant, project, name, query, tool, expected
) -> None:
    scan = uploaded(tenant, project, name, query)
    assert scan.trigger == "sarif"
    assert scan.ref == "sarif/" + tool.lower().replace(" ", "-")
    got = [
        (f["rule_id"], f["severity"], f["confidence"], f["path"], f["start_line"], f["cwe"])
        for f in findings(tenant, scan)
    ]
    assert sorted(got) == sorted(expected)
    assert {f["tool"] for f in findings(tenant, scan)} == {tool}
    # Live progress as for any scan: the log has the steps, the findings count and the end.
    events = list(read_events(scan_id=scan.id, after=0))
    kinds = [event.kind for event in events]
    assert kinds[0] == "status" and kinds[-1] == "completed"
    steps = [event.data.get("step") for event in events if event.kind == "step"]
    assert "Reading the uploaded SARIF report" in steps
    # The scan's own SARIF report names the uploaded tool.
    response = tenant.client.get(f"/api/scans/{scan.id}/sarif")
    document = json.loads(b"".join(response.streaming_content))
    assert tool in [run["tool"]["driver"]["name"] for run in document["runs"]]


def test_the_same_report_twice_gives_no_new_alert_and_a_dismissal_sticks(tenant, project) -> None:
    first = uploaded(tenant, project, "codeql")
    alerts = tenant.client.get(f"/api/projects/{project.id}/alerts/?page_size=100").json()
    assert len(alerts["results"]) == 2
    sqli = next(a for a in alerts["results"] if a["rule_id"] == "py/sql-injection")
    dismissed = tenant.client.post(
        f"/api/projects/{project.id}/alerts/{sqli['id']}/dismiss",
        {"reason": "false_positive", "comment": "parameterised further down"},
        format="json",
    )
    assert dismissed.status_code == 200, dismissed.json()
    # The same findings at other lines (the code moved): the fingerprints are the report's.
    document = json.loads(report("codeql"))
    for result in document["runs"][0]["results"]:
        result["locations"][0]["physicalLocation"]["region"]["startLine"] += 7
    response = upload(tenant.client, project, json.dumps(document).encode())
    second = wait_for_scan(response.json()["id"])
    assert second.status == "completed"
    assert Alert.objects.filter(project=project).count() == 2
    statuses = {f["rule_id"]: f["status"] for f in findings(tenant, second)}
    assert statuses == {"py/sql-injection": "unchanged", "py/reflective-xss": "unchanged"}
    assert {f.fingerprint for f in Finding.objects.filter(scan=first)} == {
        f.fingerprint for f in Finding.objects.filter(scan=second)
    }
    # The dismissed one stays dismissed and out of the gate.
    reasons = {f["rule_id"]: f["dismissed_reason"] for f in findings(tenant, second)}
    assert reasons == {"py/sql-injection": "false_positive", "py/reflective-xss": None}
    assert second.summary["dismissed"] == 1
    gate = tenant.client.get(f"/api/scans/{second.id}/gate?fail_on=high").json()
    assert (gate["passed"], gate["matching"]) == (True, 0)
    gate = tenant.client.get(f"/api/scans/{second.id}/gate?fail_on=medium").json()
    assert (gate["passed"], gate["matching"]) == (False, 1)


def test_without_partial_fingerprints_the_snippet_keeps_the_identity(tenant, project) -> None:
    first = uploaded(tenant, project, "semgrep")
    document = json.loads(report("semgrep"))
    for result in document["runs"][0]["results"]:
        result["locations"][0]["physicalLocation"]["region"]["startLine"] += 3
        result["locations"][0]["physicalLocation"]["region"]["endLine"] += 3
    response = upload(tenant.client, project, json.dumps(document).encode())
    second = wait_for_scan(response.json()["id"])
    assert {f["status"] for f in findings(tenant, second)} == {"unchanged"}
    assert {f.fingerprint for f in Finding.objects.filter(scan=first)} == {
        f.fingerprint for f in Finding.objects.filter(scan=second)
    }
    assert Alert.objects.filter(project=project).count() == 2
    # A result that is gone is fixed, and only for its own tool's ref.
    uploaded(tenant, project, "trivy")
    document["runs"][0]["results"].pop()
    response = upload(tenant.client, project, json.dumps(document).encode())
    third = wait_for_scan(response.json()["id"])
    assert third.summary["fixed"] == 1
    assert Alert.objects.filter(project=project, ref="sarif/trivy", state="open").count() == 2


def test_a_tool_message_is_plain_text_on_the_pages(tenant, project) -> None:
    document = json.loads(report("gitleaks"))
    document["runs"][0]["results"][0]["message"]["text"] = (
        "<script>alert(1)</script> [click](javascript:alert(2)) <b>bold</b>"
    )
    response = upload(tenant.client, project, json.dumps(document).encode())
    scan = wait_for_scan(response.json()["id"])
    assert scan.status == "completed"
    browser = Client()
    browser.force_login(tenant.user)
    page = browser.get(f"/scans/{scan.id}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page


@pytest.mark.parametrize(
    ("body", "query", "expected"),
    [
        (b"{not json", "", "not valid JSON"),
        (b"", "", "no report sent"),
        (b'{"version": "2.0.0", "runs": []}', "", "Only SARIF 2.1.0"),
        (b'{"version": "2.1.0", "runs": [{"tool": {}}]}', "", "schema"),
        (b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": 3}}}]}', "", "schema"),
        (b'{"version": "2.1.0", "runs": []}', "", "no runs"),
        (b"[" * 200 + b"]" * 200, "", "nested"),
        ("eslint", "", "outside the repository"),
        ("eslint", "?root=relative/dir", "absolute"),
    ],
)
def test_bad_reports_are_refused_with_a_clear_400_and_nothing_is_kept(
    tenant, project, body, query, expected
) -> None:
    data = report(body) if isinstance(body, str) else body
    response = upload(tenant.client, project, data, query)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert expected.lower() in json.dumps(error).lower()
    assert not Scan.objects.exists()


def test_a_refused_report_loses_nothing_of_what_was_there(tenant, project) -> None:
    before = uploaded(tenant, project, "trivy")
    document = json.loads(report("trivy"))
    document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"
    ] = "../outside"
    response = upload(tenant.client, project, json.dumps(document).encode())
    assert response.status_code == 400
    assert list(Scan.objects.all()) == [before]
    assert Alert.objects.filter(project=project, state="open").count() == 2


@pytest.mark.parametrize(
    "uri",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "file:///etc/passwd",
        "a/../../b.py",
        "C:\\x\\y.py",
        "https://example.com/a.py",
        "http://[broken",
    ],
)
def test_paths_outside_the_repository_are_refused(tenant, project, uri) -> None:
    document = json.loads(report("gitleaks"))
    location = document["runs"][0]["results"][1]["locations"][0]["physicalLocation"]
    location["artifactLocation"]["uri"] = uri
    response = upload(tenant.client, project, json.dumps(document).encode())
    assert response.status_code == 400, response.content
    assert "runs/0/results/1" in json.dumps(response.json())
    assert not Scan.objects.exists()


def test_odd_uris_elsewhere_in_a_report_are_ignored_not_fatal(tenant, project) -> None:
    document = json.loads(report("trivy"))
    document["runs"][0]["originalUriBaseIds"]["OTHER"] = {"uri": "http://[broken"}
    document["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = "http://[broken"
    response = upload(tenant.client, project, json.dumps(document).encode())
    assert response.status_code == 201, response.content
    assert wait_for_scan(response.json()["id"]).status == "completed"


def test_a_path_inside_is_normalized(tenant, project) -> None:
    document = json.loads(report("gitleaks"))
    location = document["runs"][0]["results"][1]["locations"][0]["physicalLocation"]
    location["artifactLocation"]["uri"] = "./deploy/../deploy/env%20prod.sh"
    response = upload(tenant.client, project, json.dumps(document).encode())
    scan = wait_for_scan(response.json()["id"])
    assert "deploy/env prod.sh" in {f["path"] for f in findings(tenant, scan)}


def test_a_report_of_several_tools_is_refused(tenant, project) -> None:
    document = json.loads(report("codeql"))
    document["runs"].extend(json.loads(report("trivy"))["runs"])
    response = upload(tenant.client, project, json.dumps(document).encode())
    assert response.status_code == 400
    assert "several tools" in response.json()["error"]["message"]


def test_a_report_over_the_size_limit_is_refused_with_413(tenant, project, settings) -> None:
    settings.SCANPULSE_SARIF_MAX_BYTES = 1000
    response = upload(tenant.client, project, report("codeql"))
    assert response.status_code == 413, response.content
    error = response.json()["error"]
    assert error["code"] == "too_large" and "SCANPULSE_SARIF_MAX_BYTES" in error["message"]
    assert not Scan.objects.exists()


def test_a_report_larger_than_other_api_bodies_is_taken(tenant, project, settings) -> None:
    document = json.loads(report("trivy"))
    document["runs"][0]["properties"] = {"padding": "x" * (settings.SCANPULSE_MAX_BODY_BYTES * 2)}
    response = upload(tenant.client, project, json.dumps(document).encode())
    assert response.status_code == 201, response.content


def test_a_multipart_upload_with_ref_and_root(tenant, project, tmp_path) -> None:
    path = tmp_path / "eslint.sarif"
    path.write_bytes(report("eslint"))
    with path.open("rb") as handle:
        response = tenant.client.post(
            f"/api/projects/{project.id}/sarif",
            {"file": handle, "ref": "main", "root": "/home/dev/webapp/"},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    scan = wait_for_scan(response.json()["id"])
    assert scan.status == "completed" and scan.ref == "main"
    assert {f["path"] for f in findings(tenant, scan)} == {"src/render.js"}


def test_a_member_may_upload_a_viewer_not_other_tenants_see_nothing_and_it_is_audited(
    tenant, other_tenant, project
) -> None:
    route = f"/api/projects/{project.id}/sarif"
    body = report("semgrep")
    viewer = client_for(tenant, "viewer@acme.example", Role.VIEWER)
    refused = viewer.post(route, data=body, content_type="application/sarif+json")
    assert refused.status_code == 403
    stranger = other_tenant.client.post(route, data=body, content_type="application/sarif+json")
    assert stranger.status_code == 404
    assert not Scan.objects.exists()
    member = client_for(tenant, "dev@acme.example", Role.MEMBER)
    created = member.post(route, data=body, content_type="application/sarif+json")
    assert created.status_code == 201, created.json()
    scan = wait_for_scan(created.json()["id"])
    assert scan.status == "completed", scan.error_message
    assert other_tenant.client.get(f"/api/scans/{scan.id}/findings/").status_code == 404
    entry = AuditEntry.objects.get(action="scan.sarif_upload")
    assert entry.actor == "dev@acme.example" and entry.organization_id == tenant.org.id
    assert entry.target_id == str(scan.id)
    assert entry.details["tool"] == "Semgrep OSS" and entry.details["results"] == 2
