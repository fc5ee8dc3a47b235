"""Every API route, walked with another organization's token (404) and with none (401)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from scanpulse.alerts.models import Alert, Dismissal
from scanpulse.credentials.services import credential_create
from scanpulse.projects.models import Project
from scanpulse.scans.models import Finding, Scan
from scanpulse.schedules.models import Schedule
from tests.notifications.routes import WEBHOOK_ROUTES

# Routes that are public by design.
PUBLIC = {"api/schema/", "api/docs/"}
# Members, invitations, tokens and the audit log: walked for every role, another
# organization's member and nobody by tests/tenancy/test_matrix.py.
PEOPLE_ROUTES = {
    "api/tokens/",
    "api/tokens/<uuid:token_id>/",
    "api/organizations/<uuid:organization_id>/members/",
    "api/organizations/<uuid:organization_id>/members/<int:user_id>/",
    "api/organizations/<uuid:organization_id>/invitations/",
    "api/organizations/<uuid:organization_id>/invitations/<uuid:invitation_id>/",
    "api/organizations/<uuid:organization_id>/audit/",
}

# A CycloneDX SBOM that could be uploaded (one component scanpulse can check).
SBOM_UPLOAD = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "components": [
        {"type": "library", "name": "django", "version": "3.2.0", "purl": "pkg:pypi/django@3.2.0"}
    ],
}

# A SARIF 2.1.0 report that could be uploaded (one result of one tool).
SARIF_UPLOAD = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "probe", "rules": [{"id": "P1"}]}},
            "results": [
                {
                    "ruleId": "P1",
                    "level": "warning",
                    "message": {"text": "probe"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "a.py"},
                                "region": {"startLine": 1},
                            }
                        }
                    ],
                }
            ],
        }
    ],
}

# Every API route and how to call it, as (method, route pattern, body).
ROUTES = [
    ("GET", "api/projects/<uuid:project_id>/", None),
    ("PATCH", "api/projects/<uuid:project_id>/", {"name": "stolen"}),
    ("DELETE", "api/projects/<uuid:project_id>/", None),
    ("GET", "api/projects/<uuid:project_id>/alerts/", None),
    ("GET", "api/projects/<uuid:project_id>/alerts/<uuid:alert_id>/", None),
    (
        "POST",
        "api/projects/<uuid:project_id>/alerts/<uuid:alert_id>/dismiss",
        {"reason": "false_positive"},
    ),
    ("POST", "api/projects/<uuid:project_id>/alerts/<uuid:alert_id>/reopen", None),
    (
        "POST",
        "api/projects/<uuid:project_id>/alerts/triage",
        {"alerts": [str(uuid.UUID(int=1))], "action": "dismiss", "reason": "wont_fix"},
    ),
    ("GET", "api/projects/<uuid:project_id>/schedules/", None),
    ("POST", "api/projects/<uuid:project_id>/schedules/", {"kind": "cron", "cron": "* * * * *"}),
    ("GET", "api/projects/<uuid:project_id>/schedules/<uuid:schedule_id>/", None),
    (
        "PATCH",
        "api/projects/<uuid:project_id>/schedules/<uuid:schedule_id>/",
        {"enabled": False},
    ),
    ("DELETE", "api/projects/<uuid:project_id>/schedules/<uuid:schedule_id>/", None),
    ("GET", "api/scans/<uuid:scan_id>/", None),
    ("POST", "api/scans/<uuid:scan_id>/cancel", None),
    ("GET", "api/scans/<uuid:scan_id>/findings/", None),
    ("GET", "api/scans/<uuid:scan_id>/status", None),
    ("GET", "api/scans/<uuid:scan_id>/events", None),
    ("GET", "api/scans/<uuid:scan_id>/sarif", None),
    ("GET", "api/scans/<uuid:scan_id>/sbom", None),
    ("POST", "api/projects/<uuid:project_id>/sbom", SBOM_UPLOAD),
    ("POST", "api/projects/<uuid:project_id>/sarif", SARIF_UPLOAD),
    ("GET", "api/scans/<uuid:scan_id>/gate", None),
    ("GET", "api/organizations/<uuid:organization_id>/inbound-webhooks", None),
    ("POST", "api/organizations/<uuid:organization_id>/inbound-webhooks/secret", None),
    ("GET", "api/projects/<uuid:project_id>/credential", None),
    ("PUT", "api/projects/<uuid:project_id>/credential", {"kind": "ssh_key"}),
    ("DELETE", "api/projects/<uuid:project_id>/credential", None),
    ("POST", "api/projects/<uuid:project_id>/credential/use", {"credential": None}),
    ("GET", "api/projects/<uuid:project_id>/host-keys/", None),
    ("DELETE", "api/projects/<uuid:project_id>/host-keys/", None),
    (
        "POST",
        "api/projects/<uuid:project_id>/host-keys/",
        {"host": "h", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="},
    ),
    ("GET", "api/organizations/<uuid:organization_id>/credentials/", None),
    (
        "POST",
        "api/organizations/<uuid:organization_id>/credentials/",
        {"name": "n", "kind": "ssh_key"},
    ),
    ("GET", "api/organizations/<uuid:organization_id>/credentials/<uuid:credential_id>/", None),
    ("DELETE", "api/organizations/<uuid:organization_id>/credentials/<uuid:credential_id>/", None),
]
# Collection routes: another org's objects are absent from them, or refused as unknown.
COLLECTIONS = ["api/projects/", "api/scans/"]
# The server's own data, no organization's: every member of any organization reads it
# (tests/feeds/test_status.py); without a token, 401.
SERVER_WIDE = ["api/advisories/"]
# Served outside Django (plain ASGI).
STREAM_ROUTES = ["api/scans/<uuid:scan_id>/progress", "api/stream"]


def _django_api_routes() -> set[str]:
    found: set[str] = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.add(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return {route for route in found if route.startswith("api/")}


@pytest.fixture
def victim_objects(other_tenant, tmp_path: Path):
    project = Project.objects.create(
        organization=other_tenant.org, name="secret", repo_url=str(tmp_path)
    )
    scan = Scan.objects.create(project=project, organization=other_tenant.org, ref="main")
    Finding.objects.create(
        scan=scan,
        tool="bandit",
        rule_id="B101",
        severity="low",
        confidence="high",
        path="a.py",
        start_line=1,
        message="m",
        fingerprint="f" * 32,
        status="new",
    )
    alert = Alert.objects.create(
        project=project,
        ref="main",
        fingerprint="f" * 32,
        tool="bandit",
        rule_id="B101",
        severity="low",
        path="a.py",
        start_line=1,
        message="m",
        first_seen_scan=scan.id,
        first_seen_at=scan.created_at,
        last_seen_scan=scan.id,
        last_seen_at=scan.created_at,
    )
    credential = credential_create(
        user=other_tenant.user, organization=other_tenant.org, name="deploy", kind="ssh_key"
    )
    project.credential = credential
    project.save()
    schedule = Schedule.objects.create(project=project, ref="main", kind="cron", cron="0 3 * * *")
    return {
        "project_id": project.id,
        "scan_id": scan.id,
        "alert_id": alert.id,
        "organization_id": other_tenant.org.id,
        "credential_id": credential.id,
        "schedule_id": schedule.id,
    }


def _fill(route: str, ids: dict) -> str:
    return "/" + re.sub(r"<uuid:(\w+)>", lambda m: str(ids[m.group(1)]), route)


def test_the_table_covers_every_api_route() -> None:
    # The webhook routes have their own table and test (tests/notifications/test_api.py).
    webhooks = {route for _, route, _ in WEBHOOK_ROUTES}
    covered = (
        {route for _, route, _ in ROUTES} | set(COLLECTIONS) | set(SERVER_WIDE) | PUBLIC | webhooks
    )
    covered |= PEOPLE_ROUTES
    assert _django_api_routes() == covered


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_another_organizations_objects_answer_404(
    tenant, victim_objects, method: str, route: str, body
) -> None:
    response = (
        tenant.client.generic(method, _fill(route, victim_objects), data=body, format="json")
        if body is None
        else getattr(tenant.client, method.lower())(
            _fill(route, victim_objects), body, format="json"
        )
    )
    assert response.status_code == 404, (route, response.content)
    assert response.json()["error"]["code"] == "not_found"
    assert Project.objects.get(pk=victim_objects["project_id"]).name == "secret"
    assert Scan.objects.get(pk=victim_objects["scan_id"]).status == "pending"
    assert not Dismissal.objects.exists()
    assert (
        Project.objects.get(pk=victim_objects["project_id"]).credential_id
        == (victim_objects["credential_id"])
    )
    assert Schedule.objects.get(pk=victim_objects["schedule_id"]).enabled


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_routes_without_a_token_answer_401(
    anonymous, victim_objects, method: str, route: str, body
) -> None:
    response = anonymous.generic(method, _fill(route, victim_objects))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", SERVER_WIDE)
def test_server_wide_routes_without_a_token_answer_401(anonymous, route: str) -> None:
    response = anonymous.get("/" + route)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("route", COLLECTIONS)
def test_collections_hide_other_organizations(
    tenant, victim_objects, anonymous, route: str
) -> None:
    assert tenant.client.get("/" + route).json()["count"] == 0
    assert anonymous.get("/" + route).status_code == 401


def test_scans_cannot_be_started_on_another_organizations_project(tenant, victim_objects) -> None:
    response = tenant.client.post(
        "/api/scans/", {"project": str(victim_objects["project_id"])}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["project"] == ["Unknown project."]
    assert Scan.objects.count() == 1


def test_projects_cannot_be_created_in_another_organization(tenant, other_tenant, tmp_path) -> None:
    response = tenant.client.post(
        "/api/projects/",
        {"name": "x", "repo_url": str(tmp_path), "organization": str(other_tenant.org.id)},
        format="json",
    )
    assert response.status_code == 400
    assert not Project.objects.filter(organization=other_tenant.org).exists()


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", STREAM_ROUTES)
async def test_stream_routes_are_scoped_too(
    tenant, victim_objects, other_tenant, route: str
) -> None:
    from scanpulse.config.asgi import application

    path = _fill(route, victim_objects)
    if route == "api/stream":
        path += f"?organization={other_tenant.org.id}"
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        foreign = await client.get(path, headers={"Authorization": f"Bearer {tenant.token}"})
        missing = await client.get(path)
        revoked = await client.get(path, headers={"Authorization": "Bearer spt_nope"})
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    assert missing.status_code == 401 and revoked.status_code == 401
