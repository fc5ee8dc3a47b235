"""Who may write: viewers read everything of their organization and change nothing, members
triage, and the one permission table (``tenancy.permissions``) decides for every write."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
from django.utils import timezone

from scanpulse.alerts.models import Alert, Dismissal
from scanpulse.credentials.services import credential_create
from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan, ScanReport
from scanpulse.schedules.models import Schedule
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.permissions import PERMISSIONS, Action, allowed
from tests.alerts.conftest import client_for
from tests.api.test_isolation import (
    PEOPLE_ROUTES,
    PUBLIC,
    SARIF_UPLOAD,
    SBOM_UPLOAD,
    _django_api_routes,
)
from tests.notifications.routes import WEBHOOK_ROUTES

# Every write of the API, as (method, route, body).
WRITES = [
    ("POST", "api/projects/", {"name": "new", "repo_url": "{repo}"}),
    ("PATCH", "api/projects/<uuid:project_id>/", {"name": "renamed"}),
    ("DELETE", "api/projects/<uuid:project_id>/", None),
    ("POST", "api/scans/", {"project": "{project_id}"}),
    ("POST", "api/scans/<uuid:running_id>/cancel", None),
    (
        "POST",
        "api/projects/<uuid:project_id>/alerts/<uuid:alert_id>/dismiss",
        {"reason": "wont_fix"},
    ),
    ("POST", "api/projects/<uuid:project_id>/alerts/<uuid:dismissed_id>/reopen", None),
    (
        "POST",
        "api/projects/<uuid:project_id>/alerts/triage",
        {"alerts": ["{alert_id}"], "action": "dismiss", "reason": "wont_fix"},
    ),
    # Credentials and pinned host keys (owners and admins: tests/credentials/test_access.py).
    ("PUT", "api/projects/<uuid:project_id>/credential", {"kind": "ssh_key"}),
    ("DELETE", "api/projects/<uuid:project_id>/credential", None),
    ("POST", "api/projects/<uuid:project_id>/credential/use", {"credential": None}),
    (
        "POST",
        "api/projects/<uuid:project_id>/host-keys/",
        {"host": "h", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="},
    ),
    ("DELETE", "api/projects/<uuid:project_id>/host-keys/", None),
    (
        "POST",
        "api/organizations/<uuid:organization_id>/credentials/",
        {"name": "n", "kind": "ssh_key"},
    ),
    ("DELETE", "api/organizations/<uuid:organization_id>/credentials/<uuid:credential_id>/", None),
    ("POST", "api/projects/<uuid:project_id>/schedules/", {"kind": "cron", "cron": "0 4 * * *"}),
    (
        "PATCH",
        "api/projects/<uuid:project_id>/schedules/<uuid:schedule_id>/",
        {"cron": "0 5 * * *"},
    ),
    ("DELETE", "api/projects/<uuid:project_id>/schedules/<uuid:schedule_id>/", None),
    # An uploaded SBOM starts a scan: members may, viewers not (tests/scans/test_sbom.py).
    ("POST", "api/projects/<uuid:project_id>/sbom", SBOM_UPLOAD),
    # So does an uploaded SARIF report (tests/scans/test_sarif_upload.py).
    ("POST", "api/projects/<uuid:project_id>/sarif", SARIF_UPLOAD),
]
TRIAGE_WRITES = WRITES[5:8]
# Every read of the API.
READS = [
    "api/projects/",
    "api/projects/<uuid:project_id>/",
    "api/projects/<uuid:project_id>/alerts/",
    "api/projects/<uuid:project_id>/alerts/<uuid:alert_id>/",
    "api/projects/<uuid:project_id>/schedules/",
    "api/projects/<uuid:project_id>/schedules/<uuid:schedule_id>/",
    "api/scans/",
    "api/scans/<uuid:scan_id>/",
    "api/scans/<uuid:scan_id>/findings/",
    "api/scans/<uuid:scan_id>/status",
    "api/scans/<uuid:scan_id>/events",
    "api/scans/<uuid:scan_id>/sarif",
    "api/scans/<uuid:scan_id>/sbom",
    "api/scans/<uuid:scan_id>/gate",
    "api/projects/<uuid:project_id>/credential",
    "api/projects/<uuid:project_id>/host-keys/",
    "api/organizations/<uuid:organization_id>/credentials/",
    "api/organizations/<uuid:organization_id>/credentials/<uuid:credential_id>/",
    "api/advisories/",
]


# Routes of owners and admins alone: a viewer (and a member) neither reads nor writes them.
MANAGED = [
    ("GET", "api/organizations/<uuid:organization_id>/inbound-webhooks", None),
    ("POST", "api/organizations/<uuid:organization_id>/inbound-webhooks/secret", None),
]


def normalized(route: str) -> str:
    return re.sub(r"<uuid:\w+>", "<uuid>", route)


def test_the_tables_cover_every_api_route() -> None:
    covered = {normalized(route) for _, route, _ in WRITES} | {normalized(r) for r in READS}
    covered |= {normalized(route) for _, route, _ in MANAGED}
    # Webhooks are for owners and admins only, reads included (tests/notifications/test_api.py).
    covered |= {normalized(route) for _, route, _ in WEBHOOK_ROUTES}
    # Members, invitations, tokens, the audit log: tests/tenancy/test_matrix.py.
    covered |= {normalized(route) for route in PEOPLE_ROUTES}
    assert {normalized(route) for route in _django_api_routes()} - PUBLIC == covered


@pytest.fixture
def objects(tenant, tmp_path) -> dict[str, Any]:
    project = Project.objects.create(organization=tenant.org, name="app", repo_url=str(tmp_path))
    scan = Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="completed"
    )
    ScanReport.objects.create(scan=scan, sarif_gzip=gzip.compress(b"{}"), size=2)
    running = Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="running"
    )
    now = timezone.now()

    def alert(fingerprint: str) -> Alert:
        return Alert.objects.create(
            project=project,
            ref="main",
            fingerprint=fingerprint,
            tool="bandit",
            rule_id="B101",
            severity="low",
            path="a.py",
            start_line=1,
            message="m",
            first_seen_scan=scan.id,
            first_seen_at=now,
            last_seen_scan=scan.id,
            last_seen_at=now,
        )

    dismissed = alert("d" * 32)
    Dismissal.objects.create(
        project=project, fingerprint=dismissed.fingerprint, reason="wont_fix", dismissed_at=now
    )
    return {
        "organization_id": tenant.org.id,
        "project_id": project.id,
        "scan_id": scan.id,
        "running_id": running.id,
        "alert_id": alert("a" * 32).id,
        "dismissed_id": dismissed.id,
        "schedule_id": Schedule.objects.create(
            project=project, ref="main", kind="cron", cron="0 3 * * *"
        ).id,
        "repo": str(tmp_path),
        "credential_id": credential_create(
            user=tenant.user, organization=tenant.org, name="deploy", kind="ssh_key"
        ).id,
    }


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        value = re.sub(r"<uuid:(\w+)>", lambda m: str(ids[m.group(1)]), value)
        return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), value)
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    return value


def call(client: Any, method: str, route: str, body: Any, ids: dict[str, Any]) -> Any:
    path = "/" + fill(route, ids)
    if body is None:
        return client.generic(method, path)
    return getattr(client, method.lower())(path, fill(body, ids), format="json")


def state(objects: dict[str, Any]) -> tuple:
    """Everything the writes could change."""
    project = Project.objects.get(pk=objects["project_id"])
    return (
        project.name,
        Project.objects.count(),
        Scan.objects.count(),
        Scan.objects.get(pk=objects["running_id"]).cancel_requested_at,
        sorted(Dismissal.objects.values_list("fingerprint", flat=True)),
        list(Schedule.objects.values_list("cron", flat=True)),
    )


@pytest.mark.parametrize(("method", "route", "body"), WRITES)
def test_a_viewer_is_refused_every_write(tenant, objects, method, route, body) -> None:
    viewer = client_for(tenant, "auditor@acme.example", Role.VIEWER)
    before = state(objects)

    response = call(viewer, method, route, body, objects)

    assert response.status_code == 403, (route, response.content)
    assert response.json()["error"]["code"] == "permission_denied"
    assert state(objects) == before


@pytest.mark.parametrize(("method", "route", "body"), MANAGED)
@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_viewers_and_members_are_refused_what_only_managers_see(
    tenant, objects, method, route, body, role
) -> None:
    someone = client_for(tenant, f"{role}@acme.example", role)
    response = call(someone, method, route, body, objects)
    assert response.status_code == 403, (route, response.content)
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("route", READS)
def test_a_viewer_reads_everything(tenant, objects, route) -> None:
    viewer = client_for(tenant, "auditor@acme.example", Role.VIEWER)
    response = call(viewer, "GET", route, None, objects)
    assert response.status_code == 200, (route, response.content)


def test_members_triage(tenant, objects) -> None:
    member = client_for(tenant, "dev@acme.example", Role.MEMBER)
    for method, route, body in TRIAGE_WRITES:
        response = call(member, method, route, body, objects)
        assert response.status_code == 200, (route, response.content)
    assert list(Dismissal.objects.values_list("fingerprint", flat=True)) == ["a" * 32]


def test_the_permission_table() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert not any(allowed(Role.VIEWER, action) for action in Action)
    assert all(allowed(Role.OWNER, action) for action in Action)
    assert allowed(Role.MEMBER, Action.ALERT_TRIAGE)
    assert not allowed(Role.MEMBER, Action.PROJECT_DELETE)
    assert not allowed("intruder", Action.SCAN_CREATE)


def test_viewers_cannot_start_or_cancel_scans_through_the_services(tenant, objects) -> None:
    from scanpulse.core.exceptions import Forbidden
    from scanpulse.scans.services import scan_cancel, scan_create
    from scanpulse.tenancy.services import user_create

    viewer = user_create(email="v@acme.example", organization=tenant.org, role=Role.VIEWER)
    project = Project.objects.get(pk=objects["project_id"])
    with pytest.raises(Forbidden):
        scan_create(user=viewer, project=project)
    with pytest.raises(Forbidden):
        scan_cancel(user=viewer, scan=Scan.objects.get(pk=objects["running_id"]))
    assert Scan.objects.count() == 2
    assert Scan.objects.get(pk=objects["running_id"]).cancel_requested_at is None


def test_a_viewer_is_refused_every_write_of_the_pages_too(tenant, objects) -> None:
    from django.test import Client

    from scanpulse.tenancy.services import user_create

    user_create(
        email="v@acme.example", organization=tenant.org, role=Role.VIEWER, password="pw-long-enough"
    )
    browser = Client()
    assert browser.login(username="v@acme.example", password="pw-long-enough")
    before = state(objects)

    created = browser.post("/projects/", {"name": "new", "repo_url": objects["repo"]})
    started = browser.post(f"/projects/{objects['project_id']}/scans", {"ref": "main"})
    cancelled = browser.post(f"/scans/{objects['running_id']}/cancel")
    uploaded = browser.post(f"/projects/{objects['project_id']}/sarif", {"sarif-ref": "main"})

    for response in (created, started, cancelled, uploaded):
        assert response.status_code == 403
        assert "Viewers can read but not change anything" in response.content.decode()
    assert state(objects) == before
    assert browser.get(f"/projects/{objects['project_id']}/").status_code == 200


def test_a_viewer_learns_nothing_from_bulk_triage_ids(tenant, objects) -> None:
    viewer = client_for(tenant, "auditor@acme.example", Role.VIEWER)
    response = viewer.post(
        f"/api/projects/{objects['project_id']}/alerts/triage",
        {"alerts": [str(objects["scan_id"])], "action": "reopen"},
        format="json",
    )
    assert response.status_code == 403
    assert str(objects["scan_id"]) not in response.content.decode()
