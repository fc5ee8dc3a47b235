"""A project's quality gate page: every member reads the conditions in force, owners and admins
change them through the same parser as the API; another organization's project is a 404."""

from __future__ import annotations

import pytest
from django.test import Client

from scanpulse.projects.gate import QualityGate
from scanpulse.projects.models import Project
from scanpulse.tenancy.services import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(tenant, tmp_path) -> Project:
    return Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _stored(project: Project) -> QualityGate:
    return QualityGate.from_stored(Project.objects.get(pk=project.pk).gate_policy)


FULL = {
    "no_new_alerts_at_or_above": "high",
    "no_secrets": "on",
    "no_fixable_dependency_alerts_older_than_days": "30",
    "max_open_alerts_severity": "medium",
    "max_open_alerts_count": "5",
    "require_complete": "on",
}


def test_the_project_page_links_to_the_gate_which_shows_the_default(tenant, project) -> None:
    owner = _client(tenant.user)
    page = owner.get(f"/projects/{project.id}/").content.decode()
    assert f'href="/projects/{project.id}/gate"' in page

    gate = owner.get(f"/projects/{project.id}/gate")
    html = gate.content.decode()
    assert gate.status_code == 200
    assert "The scan is complete: an incomplete scan never passes" in html
    assert "Save the gate" in html  # an owner may change it


def test_an_owner_sets_every_condition_then_turns_them_off(tenant, project) -> None:
    owner = _client(tenant.user)
    url = f"/projects/{project.id}/gate"

    saved = owner.post(url, FULL)

    assert saved.status_code == 302 and saved["Location"] == url
    assert _stored(project) == QualityGate(
        no_new_alerts_at_or_above="high",
        no_secrets=True,
        no_fixable_dependency_alerts_older_than_days=30,
        max_open_alerts=("medium", 5),
        require_complete=True,
    )
    html = owner.get(url).content.decode()
    assert "Quality gate saved." in html
    assert "No new alert at or above <strong>high</strong>" in html
    assert "At most <strong>5</strong> open alerts at or above <strong>medium</strong>" in html
    # ... the API reads the same policy
    api = owner.get(f"/api/projects/{project.id}/").json()["gate_policy"]
    assert api["max_open_alerts"] == {"severity": "medium", "count": 5}

    off = owner.post(url, {})  # nothing checked, nothing chosen

    assert off.status_code == 302
    assert _stored(project).enabled() == []
    html = owner.get(url).content.decode()
    assert "No condition: every completed scan passes, even an incomplete one." in html


def test_a_refused_policy_names_the_condition_and_changes_nothing(tenant, project) -> None:
    owner = _client(tenant.user)
    before = _stored(project)

    refused = owner.post(
        f"/projects/{project.id}/gate",
        {"max_open_alerts_severity": "high"},  # no count
    )

    assert refused.status_code == 400
    assert "Required." in refused.content.decode()
    assert _stored(project) == before


@pytest.mark.parametrize(
    ("role", "why"),
    [
        ("member", "Only owners and admins can change a project&#x27;s quality gate."),
        ("viewer", "Viewers can read but not change anything"),
    ],
)
def test_others_read_it_and_are_refused_a_change(tenant, project, role, why) -> None:
    other = _client(user_create(email=f"{role}@acme.example", organization=tenant.org, role=role))
    url = f"/projects/{project.id}/gate"

    page = other.get(url).content.decode()
    assert "The scan is complete: an incomplete scan never passes" in page
    assert "Owners and admins can change the quality gate." in page
    assert "Save the gate" not in page

    refused = other.post(url, FULL)
    assert refused.status_code == 403
    assert why in refused.content.decode()
    assert _stored(project) == QualityGate(require_complete=True)


def test_another_organizations_gate_is_not_found(tenant, other_tenant, project) -> None:
    stranger = _client(other_tenant.user)
    assert stranger.get(f"/projects/{project.id}/gate").status_code == 404
    assert stranger.post(f"/projects/{project.id}/gate", FULL).status_code == 404
    assert _stored(project) == QualityGate(require_complete=True)
