"""The project page's default scan configuration: owners and admins set it through the same
checks as the API, members see it and cannot change it."""

from __future__ import annotations

import pytest
from django.test import Client

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


def test_owners_set_it_and_see_the_parsers_message(tenant, project) -> None:
    owner = _client(tenant.user)
    page = f"/projects/{project.id}/"
    url = f"/projects/{project.id}/scan-config"

    broken = owner.post(url, {"scan_config": 'exclude = ["docs"]\ndisable = "B101"\n'})
    assert broken.status_code == 400
    assert (
        "project defaults:2: disable: expected a list of strings, got a string"
        in broken.content.decode()
    )
    assert Project.objects.get(pk=project.pk).scan_config == ""

    saved = owner.post(url, {"scan_config": 'exclude = ["docs/**"]\n'})
    assert saved.status_code == 302 and saved["Location"] == page + "#config-title"
    assert Project.objects.get(pk=project.pk).scan_config == 'exclude = ["docs/**"]\n'
    assert "exclude = [&quot;docs/**&quot;]" in owner.get(page).content.decode()


def test_members_see_it_but_cannot_change_it(tenant, project) -> None:
    Project.objects.filter(pk=project.pk).update(scan_config='disable = ["B101"]\n')
    member = _client(user_create(email="m@acme.example", organization=tenant.org, role="member"))

    page = member.get(f"/projects/{project.id}/").content.decode()
    assert "disable = [&quot;B101&quot;]" in page
    assert "Owners and admins can change it." in page
    assert "scan-config" not in page  # no form

    refused = member.post(f"/projects/{project.id}/scan-config", {"scan_config": ""})
    assert refused.status_code == 403
    assert "Only owners and admins can change a project&#x27;s scan configuration." in (
        refused.content.decode()
    )
    assert Project.objects.get(pk=project.pk).scan_config == 'disable = ["B101"]\n'


def test_another_organizations_project_is_not_found(other_tenant, project) -> None:
    stranger = _client(other_tenant.user)
    response = stranger.post(f"/projects/{project.id}/scan-config", {"scan_config": ""})
    assert response.status_code == 404
