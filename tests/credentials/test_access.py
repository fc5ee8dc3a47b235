"""Who may see and change credentials and pinned host keys, through the API and the pages:
everyone in the organization sees that a credential exists and its fingerprint; only owners
and admins change anything; another organization sees nothing, and can use nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from scanpulse.credentials.models import Credential, HostKeyPin
from scanpulse.credentials.services import credential_create
from scanpulse.projects.models import Project
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import token_create, user_create

pytestmark = pytest.mark.django_db

TOKEN = "ghp_QmV4cDk2ZWxQbHJ0UnV3MTIzNDU2"


def _api(user) -> APIClient:
    _, token = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(tenant, tmp_path):
    project = Project.objects.create(
        organization=tenant.org, name="app", repo_url="https://git.example.com/app.git"
    )
    shared = credential_create(
        user=tenant.user,
        organization=tenant.org,
        name="ci-bot",
        kind="https_token",
        username="bot",
        token=TOKEN,
    )
    project.credential = shared
    project.save()
    HostKeyPin.objects.create(
        organization=tenant.org,
        project_id=project.pk,
        host="git.example.com",
        key_type="ssh-ed25519",
        public_key="AAAAC3NzaC1lZDI1NTE5AAAAIDvXz1bY0j3o5r4W0r1Gk0yqDqXbI3nq2aVv8W1Yl3h5",
        fingerprint="SHA256:pinned",
    )
    users = {
        role: user_create(email=f"{role}@acme.example", organization=tenant.org, role=role)
        for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER)
    }
    return project, shared, users


def _writes(org_id, project_id, credential_id):
    return [
        ("post", f"/api/organizations/{org_id}/credentials/",
         {"name": "new", "kind": "https_token", "username": "u", "token": "t0ken-value"}),
        ("delete", f"/api/organizations/{org_id}/credentials/{credential_id}/", None),
        ("put", f"/api/projects/{project_id}/credential",
         {"kind": "https_token", "username": "u", "token": "t0ken-value"}),
        ("delete", f"/api/projects/{project_id}/credential", None),
        ("post", f"/api/projects/{project_id}/credential/use", {"credential": None}),
        ("post", f"/api/projects/{project_id}/host-keys/",
         {"host": "git.example.com", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDvXz1bY0j3o5r4W0r1Gk0yqDqXbI3nq2aVv8W1Yl3h5"}),
        ("delete", f"/api/projects/{project_id}/host-keys/", None),
    ]  # fmt: skip


def _reads(org_id, project_id, credential_id):
    return [
        f"/api/organizations/{org_id}/credentials/",
        f"/api/organizations/{org_id}/credentials/{credential_id}/",
        f"/api/projects/{project_id}/credential",
        f"/api/projects/{project_id}/host-keys/",
    ]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_see_fingerprints_and_change_nothing(world, tenant, role) -> None:
    project, shared, users = world
    client = _api(users[role])
    for url in _reads(tenant.org.id, project.id, shared.id):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert shared.fingerprint in answer.content.decode() or "SHA256:pinned" in (
            answer.content.decode()
        )
        assert TOKEN not in answer.content.decode()
    for method, url, body in _writes(tenant.org.id, project.id, shared.id):
        answer = getattr(client, method)(url, body, format="json")
        assert answer.status_code == 403, (method, url, answer.content)
        assert answer.json()["error"]["message"] == (
            "Only owners and admins can manage credentials and pinned host keys."
        )
    assert Credential.objects.count() == 1 and HostKeyPin.objects.count() == 1
    assert Project.objects.get(pk=project.pk).credential_id == shared.pk


def test_admins_change_everything(world, tenant) -> None:
    project, shared, users = world
    client = _api(users[Role.ADMIN])
    for method, url, body in _writes(tenant.org.id, project.id, shared.id):
        answer = getattr(client, method)(url, body, format="json")
        if url.endswith(f"{shared.id}/"):
            assert answer.status_code == 409  # still used by the project
        else:
            assert answer.status_code in (200, 201, 204), (method, url, answer.content)
    assert (
        client.delete(f"/api/organizations/{tenant.org.id}/credentials/{shared.id}/").status_code
        == 204
    )


def test_another_organization_sees_nothing_and_uses_nothing(world, tenant, other_tenant) -> None:
    project, shared, _ = world
    client = other_tenant.client
    for url in _reads(tenant.org.id, project.id, shared.id):
        assert client.get(url).status_code == 404, url
    for method, url, body in _writes(tenant.org.id, project.id, shared.id):
        assert getattr(client, method)(url, body, format="json").status_code == 404, url
    # their own project cannot reference our credential, by id or otherwise
    theirs = Project.objects.create(
        organization=other_tenant.org, name="theirs", repo_url="https://git.example.com/t.git"
    )
    refused = client.post(
        f"/api/projects/{theirs.id}/credential/use", {"credential": str(shared.id)}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["credential"] == [
        "No credential of this organization has that id."
    ]
    assert Project.objects.get(pk=theirs.pk).credential_id is None
    # nor another project's own credential within one organization
    own = tenant.client.put(
        f"/api/projects/{project.id}/credential",
        {"kind": "https_token", "username": "u", "token": "t0ken-value"},
        format="json",
    ).json()
    sibling = Project.objects.create(
        organization=tenant.org, name="sibling", repo_url="https://git.example.com/s.git"
    )
    assert (
        tenant.client.post(
            f"/api/projects/{sibling.id}/credential/use", {"credential": own["id"]}, format="json"
        ).status_code
        == 400
    )


def test_the_pages_follow_the_same_rules(world, tenant, other_tenant) -> None:
    project, shared, users = world
    project_page = f"/projects/{project.id}/credentials"
    org_page = f"/organizations/{tenant.org.id}/credentials"

    viewer = _page(users[Role.VIEWER])
    for url in (project_page, org_page):
        shown = viewer.get(url)
        assert shown.status_code == 200
        assert shared.fingerprint in shown.content.decode()
        assert TOKEN not in shown.content.decode()
        assert "Save credential" not in shown.content.decode()
    assert viewer.post(project_page, {"action": "reset-host-keys"}).status_code == 403
    assert viewer.post(org_page, {"action": "delete", "credential": shared.id}).status_code == 403
    assert HostKeyPin.objects.count() == 1 and Credential.objects.count() == 1

    stranger = _page(other_tenant.user)
    for url in (project_page, org_page):
        assert stranger.get(url).status_code == 404
        assert stranger.post(url, {"action": "remove"}).status_code == 404

    owner = _page(tenant.user)
    assert "Credentials &amp; access" in owner.get(f"/projects/{project.id}/").content.decode()
    generated = owner.post(project_page, {"action": "create", "kind": "ssh_key"})
    assert generated.status_code == 302
    page = owner.get(project_page).content.decode()
    own = Credential.objects.get(project_id=project.id)
    assert own.public_key in page and own.fingerprint in page and "PRIVATE" not in page
    created = owner.post(
        org_page,
        {"action": "create", "name": "deploy", "kind": "https_token", "username": "bot", "token": "x" * 20},
    )  # fmt: skip
    assert created.status_code == 302
    wrong = owner.post(org_page, {"action": "create", "name": "", "kind": "https_token"})
    assert wrong.status_code == 400 and "A name is required." in wrong.content.decode()
    assert owner.post(project_page, {"action": "reset-host-keys"}).status_code == 302
    assert HostKeyPin.objects.count() == 0
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDvXz1bY0j3o5r4W0r1Gk0yqDqXbI3nq2aVv8W1Yl3h5"
    pinned = owner.post(
        project_page, {"action": "pin-host-key", "host": "github.com", "public_key": key}
    )
    assert pinned.status_code == 302
    pin = HostKeyPin.objects.get()
    assert pin.fingerprint in owner.get(project_page).content.decode()
    bad = owner.post(
        project_page, {"action": "pin-host-key", "host": "github.com", "public_key": "x"}
    )
    assert bad.status_code == 400 and "Give the host&#x27;s public key" in bad.content.decode()
    assert (
        viewer.post(
            project_page, {"action": "pin-host-key", "host": "gitlab.com", "public_key": key}
        ).status_code
        == 403
    )
    assert HostKeyPin.objects.count() == 1


def test_a_deleted_project_takes_its_own_credential_and_pins_along(world, tenant) -> None:
    project, shared, _ = world
    own = tenant.client.put(
        f"/api/projects/{project.id}/credential", {"kind": "ssh_key"}, format="json"
    ).json()
    assert Credential.objects.filter(pk=own["id"]).exists()
    assert not Credential.objects.filter(pk=shared.pk, project_id__isnull=False).exists()
    assert tenant.client.delete(f"/api/projects/{project.id}/").status_code == 204
    assert not Credential.objects.filter(pk=own["id"]).exists()
    assert not HostKeyPin.objects.filter(project_id=project.id).exists()
    assert Credential.objects.filter(pk=shared.pk).exists()  # the organization's stays
