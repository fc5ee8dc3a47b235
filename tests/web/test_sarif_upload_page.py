"""The project page's SARIF upload form: a member uploads another tool's report and lands on
its scan; a refused report is explained on the form, nothing is started; a viewer has no
form and is refused; tool messages are shown as text, never as markup."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import user_create
from tests.scans.conftest import wait_for_scan
from tests.support.data import fixture_data

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project(tenant: Any, tmp_path: Path, settings: Any) -> Project:
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    return Project.objects.create(organization=tenant.org, name="web", repo_url=str(tmp_path))


def browser_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report(name: str) -> bytes:
    return fixture_data("sarif-reports", f"{name}.sarif").read_bytes()


def post(client: Client, project: Project, content: bytes, **fields: str) -> Any:
    data: dict[str, Any] = {f"sarif-{name}": value for name, value in fields.items()}
    data["sarif-file"] = SimpleUploadedFile("report.sarif", content, "application/sarif+json")
    return client.post(f"/projects/{project.id}/sarif", data)


def test_a_member_uploads_a_report_and_lands_on_its_scan(tenant, project) -> None:
    client = browser_for(tenant.user)
    page = client.get(f"/projects/{project.id}/").content.decode()
    assert "Upload another tool's SARIF report" in page
    assert 'enctype="multipart/form-data"' in page
    document = json.loads(report("eslint"))
    document["runs"][0]["results"][2]["message"]["text"] = (
        "<img src=x onerror=alert(1)> **eval** [here](javascript:alert(2))"
    )
    response = post(
        client, project, json.dumps(document).encode(), root="/home/dev/webapp", ref="lint"
    )
    assert response.status_code == 302
    scan_id = re.fullmatch(r"/scans/([0-9a-f-]{36})/", response["Location"])[1]
    scan = wait_for_scan(scan_id)
    assert scan.status == "completed" and scan.ref == "lint" and scan.trigger == "sarif"
    shown = client.get(f"/scans/{scan_id}/").content.decode()
    assert "ESLint" in shown and "render.js:6" in shown and "no-eval" in shown
    assert "<img src=x onerror" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt; **eval**" in shown
    assert 'href="javascript:' not in shown


def test_a_refused_report_is_explained_on_the_form(tenant, project, settings) -> None:
    client = browser_for(tenant.user)
    response = post(client, project, report("eslint"), ref="kept-ref")
    assert response.status_code == 400
    page = response.content.decode()
    assert "name a file outside the repository" in page
    assert "file:///home/dev/webapp/src/render.js" in page
    assert 'value="kept-ref"' in page  # what was typed is kept
    assert not Scan.objects.exists()

    missing = client.post(f"/projects/{project.id}/sarif", {"sarif-ref": "x"})
    assert missing.status_code == 400
    assert "Choose a SARIF file to upload." in missing.content.decode()

    settings.SCANPULSE_SARIF_MAX_BYTES = 100
    too_large = post(client, project, report("trivy"))
    assert too_large.status_code == 413
    assert "SCANPULSE_SARIF_MAX_BYTES" in too_large.content.decode()
    assert not Scan.objects.exists()


def test_a_viewer_has_no_form_and_is_refused_and_strangers_get_404(
    tenant, other_tenant, project
) -> None:
    viewer = user_create(email="viewer@acme.example", organization=tenant.org, role=Role.VIEWER)
    client = browser_for(viewer)
    assert "sarif-upload" not in client.get(f"/projects/{project.id}/").content.decode()
    assert post(client, project, report("semgrep")).status_code == 403
    assert post(browser_for(other_tenant.user), project, report("semgrep")).status_code == 404
    assert not Scan.objects.exists()
