"""SBOMs out and in: a real scan's inventory exported as CycloneDX 1.6 (validated by
cyclonedx-python-lib's own JSON schema validator) and SPDX 2.3 (parsed and validated by the
SPDX project's own tools, spdx-tools); an uploaded CycloneDX SBOM scanned with live progress
gives the same dependency alerts as the repository it describes; bad uploads are refused with
a clear 400; roles and tenants."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from django.test import Client
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from scanpulse.advisories.store import sync_advisories
from scanpulse.alerts.models import Alert
from scanpulse.projects.models import Project
from scanpulse.scans.log import read_events
from scanpulse.scans.models import InventoryItem, Scan
from scanpulse.tenancy.models import Role
from tests.alerts.conftest import client_for
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.data import fixture_data
from tests.support.repos import make_repo

pytestmark = pytest.mark.django_db(transaction=True)

REQUIREMENTS = "django==3.2.0\njinja2==2.10\nrequests==2.31.0\n"


@pytest.fixture
def advisories(tmp_path: Path) -> None:
    target = tmp_path / "osv"
    for package in ("django", "jinja2"):
        shutil.copytree(fixture_data("osv-pypa", "vulns", package), target / package)
    shutil.copytree(fixture_data("osv-ghsa-sample", "crates.io"), target / "crates.io")
    sync_advisories(target, source="test")


@pytest.fixture
def scanned(tenant, advisories, tmp_path, settings) -> Scan:
    """A real scan of a repository with a requirements file and a Cargo lock file."""
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    cargo = (fixture_data("manifests", "crates.io") / "Cargo.lock").read_text()
    repo = make_repo(
        tmp_path / "repo", {"requirements.txt": REQUIREMENTS, "rust/Cargo.lock": cargo}
    )
    scan = wait_for_scan(start_scan(tenant, repo)["id"])
    assert scan.status == "completed"
    return scan


def download(tenant: Any, scan: Scan, kind: str) -> Any:
    response = tenant.client.get(f"/api/scans/{scan.id}/sbom?format={kind}")
    assert response.status_code == 200, response.content
    return response


def test_the_cyclonedx_export_validates_and_lists_the_inventory(tenant, scanned) -> None:
    response = download(tenant, scanned, "cyclonedx")
    assert response["Content-Type"] == "application/vnd.cyclonedx+json"
    assert ".cdx.json" in response["Content-Disposition"]
    text = response.content.decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    document = json.loads(text)
    assert document["specVersion"] == "1.6"
    purls = {component["purl"] for component in document["components"]}
    inventory = InventoryItem.objects.filter(scan=scanned)
    assert len(document["components"]) == inventory.count() > 3
    assert {"pkg:pypi/django@3.2.0", "pkg:pypi/jinja2@2.10"} <= purls
    assert any(purl.startswith("pkg:cargo/") for purl in purls)
    # The root depends on the direct dependencies only.
    root = document["metadata"]["component"]["bom-ref"]
    [edges] = [entry for entry in document["dependencies"] if entry["ref"] == root]
    direct = {component["bom-ref"] for component in document["components"] if _direct(component)}
    assert set(edges["dependsOn"]) == direct
    assert direct and len(direct) < len(document["components"])


def test_the_scan_page_links_both_downloads_and_they_work_in_a_session(tenant, scanned) -> None:
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    page = browser.get(f"/scans/{scanned.id}/").content.decode()
    links = re.findall(r'href="([^"]*/sbom\?format=(?:cyclonedx|spdx))"', page)
    assert [link.rsplit("=", 1)[1] for link in links] == ["cyclonedx", "spdx"]
    for link in links:
        response = browser.get(link.replace("&amp;", "&"))
        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]


def _direct(component: dict[str, Any]) -> bool:
    return {"name": "scanpulse:direct", "value": "true"} in component["properties"]


def test_the_spdx_export_validates_with_the_spdx_tools(tenant, scanned, tmp_path) -> None:
    response = download(tenant, scanned, "spdx")
    assert response["Content-Type"] == "application/spdx+json"
    path = tmp_path / "out.spdx.json"
    path.write_bytes(response.content)
    document = parse_file(str(path))
    assert validate_full_spdx_document(document, "SPDX-2.3") == []
    raw = json.loads(response.content)
    assert raw["spdxVersion"] == "SPDX-2.3" and raw["dataLicense"] == "CC0-1.0"
    packages = {package["SPDXID"]: package for package in raw["packages"]}
    assert len(packages) == InventoryItem.objects.filter(scan=scanned).count() + 1
    # The document describes the project, which depends on or contains every package.
    described = [r for r in raw["relationships"] if r["relationshipType"] == "DESCRIBES"]
    assert [r["relatedSpdxElement"] for r in described] == ["SPDXRef-Project"]
    related = {
        r["relatedSpdxElement"]
        for r in raw["relationships"]
        if r["spdxElementId"] == "SPDXRef-Project"
    }
    assert related == set(packages) - {"SPDXRef-Project"}
    locators = {
        ref["referenceLocator"]
        for package in raw["packages"]
        for ref in package.get("externalRefs", [])
    }
    assert "pkg:pypi/django@3.2.0" in locators


def _alerts(project_id: Any) -> set[tuple[str, str, str, str, str]]:
    return set(
        Alert.objects.filter(project_id=project_id, rule_id="SP-DEP-VULNERABLE").values_list(
            "fingerprint", "path", "severity", "message", "state"
        )
    )


def test_an_uploaded_sbom_gives_the_alerts_of_the_repository_it_describes(
    tenant, scanned, tmp_path
) -> None:
    exported = download(tenant, scanned, "cyclonedx").content
    other = Project.objects.create(
        organization=tenant.org, name="described", repo_url=str(tmp_path / "nowhere")
    )
    response = tenant.client.post(
        f"/api/projects/{other.id}/sbom",
        data=exported,
        content_type="application/vnd.cyclonedx+json",
    )
    assert response.status_code == 201, response.json()
    scan = wait_for_scan(response.json()["id"])
    assert scan.status == "completed", scan.error_message
    assert scan.trigger == "sbom" and scan.ref == "sbom"
    expected = _alerts(scanned.project_id)
    assert len(expected) >= 2  # django, jinja2 and crates
    assert _alerts(other.id) == expected
    # Live progress as for any scan: its log has the steps and the end.
    kinds = [event.kind for event in read_events(scan_id=scan.id, after=0)]
    assert kinds[0] == "status" and kinds[-1] == "completed" and "step" in kinds
    steps = [e.data.get("step") for e in read_events(scan_id=scan.id, after=0) if e.kind == "step"]
    assert "Reading the uploaded SBOM" in steps
    # Its inventory is stored too: the SBOM's components, in their manifests.
    assert set(
        InventoryItem.objects.filter(scan=scan).values_list("ecosystem", "name", "version", "path")
    ) == set(
        InventoryItem.objects.filter(scan=scanned).values_list(
            "ecosystem", "name", "version", "path"
        )
    )


def test_a_multipart_upload_of_a_foreign_sbom_is_checked_by_its_purls(
    tenant, advisories, tmp_path, settings
) -> None:
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {
                "type": "library",
                "name": "Django",
                "version": "3.2.0",
                "purl": "pkg:pypi/Django@3.2.0",
            },
            {"type": "library", "name": "left-pad", "purl": "pkg:generic/left-pad@1"},
        ],
    }
    upload = tmp_path / "bom.json"
    upload.write_text(json.dumps(sbom))
    with upload.open("rb") as handle:
        response = tenant.client.post(
            f"/api/projects/{project.id}/sbom?ref=release", {"file": handle}, format="multipart"
        )
    assert response.status_code == 201, response.json()
    scan = wait_for_scan(response.json()["id"])
    assert scan.status == "completed" and scan.ref == "release"
    [alert] = Alert.objects.filter(project=project, rule_id="SP-DEP-VULNERABLE")
    assert alert.path == "sbom.cdx.json" and "django 3.2.0" in alert.message
    # The component of an unsupported type is reported, not silently dropped.
    assert "generic" in json.dumps(scan.summary)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"bomFormat": "SPDX"}', "CycloneDX"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {}}', "list"),
        (
            b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": '
            b'[{"type": "library", "name": "x", "purl": "pkg:generic/x@1"}]}',
            "no component",
        ),
        (b"[" * 200 + b"]" * 200, "nested"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_400(tenant, tmp_path, body, expected) -> None:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    response = tenant.client.post(
        f"/api/projects/{project.id}/sbom", data=body, content_type="application/vnd.cyclonedx+json"
    )
    assert response.status_code == 400, response.content
    assert expected.lower() in response.json()["error"]["message"].lower()
    assert not Scan.objects.exists()


def test_an_upload_over_the_size_limit_is_refused_with_413(tenant, tmp_path, settings) -> None:
    settings.SCANPULSE_SBOM_MAX_BYTES = 1000
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    body = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "pad": "x" * 2000})
    response = tenant.client.post(
        f"/api/projects/{project.id}/sbom", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Scan.objects.exists()


def test_an_sbom_larger_than_other_request_bodies_is_accepted(tenant, tmp_path) -> None:
    # given: a valid SBOM of about 1 MB, four times the limit of any other API request body
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    components = [
        {"type": "library", "name": f"package-{n}", "version": "1.0.0",
         "purl": f"pkg:npm/package-{n}@1.0.0", "description": "x" * 200}
        for n in range(4000)
    ]  # fmt: skip
    body = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components})
    assert len(body) > 4 * 256 * 1024
    # when
    response = tenant.client.post(
        f"/api/projects/{project.id}/sbom", data=body, content_type="application/json"
    )
    # then: a scan of it runs to its end
    assert response.status_code == 201, response.content
    scan = wait_for_scan(response.json()["id"])
    assert scan.status == "completed", scan.error_message
    assert scan.trigger == "sbom"
    assert Scan.objects.filter(project=project).count() == 1


def test_a_member_may_upload_a_viewer_not_and_other_tenants_see_nothing(
    tenant, other_tenant, tmp_path
) -> None:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    body = json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "components": [{"type": "library", "name": "a", "purl": "pkg:npm/a@1.0.0"}],
        }
    )
    route = f"/api/projects/{project.id}/sbom"
    viewer = client_for(tenant, "viewer@acme.example", Role.VIEWER)
    refused = viewer.post(route, data=body, content_type="application/json")
    assert refused.status_code == 403
    assert not Scan.objects.exists()
    stranger = other_tenant.client.post(route, data=body, content_type="application/json")
    assert stranger.status_code == 404
    member = client_for(tenant, "dev@acme.example", Role.MEMBER)
    created = member.post(route, data=body, content_type="application/json")
    assert created.status_code == 201, created.json()
    scan = wait_for_scan(Scan.objects.get().id)
    assert scan.status == "completed", scan.error_message
    assert other_tenant.client.get(f"/api/scans/{scan.id}/sbom").status_code == 404
    assert tenant.client.get(f"/api/scans/{scan.id}/sbom").status_code == 200
