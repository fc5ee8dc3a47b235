"""Projects over the API: create, read, update, delete, and every way input can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from scanpulse.projects.models import Project


def create(tenant, **fields):
    return tenant.client.post("/api/projects/", fields, format="json")


def test_create_list_get_update_delete(tenant, repo_dir: Path) -> None:
    # given / when
    response = create(tenant, name="web", repo_url=str(repo_dir), default_branch="main")
    # then
    assert response.status_code == 201, response.json()
    project = response.json()
    assert project["name"] == "web"
    assert project["organization"] == str(tenant.org.id)
    assert len(project["id"]) == 36

    listing = tenant.client.get("/api/projects/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == project["id"]

    detail = tenant.client.get(f"/api/projects/{project['id']}/")
    assert detail.status_code == 200 and detail.json()["repo_url"] == str(repo_dir)

    patched = tenant.client.patch(
        f"/api/projects/{project['id']}/", {"default_branch": "develop"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["default_branch"] == "develop"

    deleted = tenant.client.delete(f"/api/projects/{project['id']}/")
    assert deleted.status_code == 204
    assert tenant.client.get(f"/api/projects/{project['id']}/").status_code == 404


def test_https_and_ssh_locations_are_accepted(tenant) -> None:
    for index, url in enumerate(
        [
            "https://github.com/pallets/flask.git",
            "ssh://git@github.com/pallets/flask.git",
            "git@github.com:pallets/flask.git",
        ]
    ):
        response = create(tenant, name=f"p{index}", repo_url=url)
        assert response.status_code == 201, (url, response.json())


@pytest.mark.parametrize(
    ("repo_url", "message"),
    [
        ("ext::sh -c touch% /tmp/pwned", "Command transports"),
        ("fd::17", "Command transports"),
        ("-uhttps://evil.example/x", "must not start with '-'"),
        ("--upload-pack=touch /tmp/x", "must not start with '-'"),
        ("http://example.com/repo.git", "'http' scheme is not allowed"),
        ("ftp://example.com/repo.git", "'ftp' scheme is not allowed"),
        ("https://", "Use an https://"),
        ("relative/path", "Use an https://"),
        ("https://example.com/a\nb", "Control characters"),
        ("", "may not be blank"),
    ],
)
def test_bad_repository_locations_are_refused(tenant, repo_url: str, message: str) -> None:
    response = create(tenant, name="bad", repo_url=repo_url)
    assert response.status_code == 400
    body = response.json()
    assert message in " ".join(body["error"]["fields"]["repo_url"])
    assert not Project.objects.exists()


def test_embedded_credentials_are_refused_and_never_echoed(tenant) -> None:
    response = create(tenant, name="x", repo_url="https://bob:s3cr3t-t0ken@github.com/o/r.git")
    assert response.status_code == 400
    assert "s3cr3t-t0ken" not in response.content.decode()
    assert "Credentials must not be embedded" in response.json()["error"]["fields"]["repo_url"][0]


def test_local_paths_need_the_setting_and_an_existing_directory(tenant, repo_dir: Path) -> None:
    missing = create(tenant, name="a", repo_url=str(repo_dir / "nope"))
    assert missing.status_code == 400
    assert "No directory" in missing.json()["error"]["fields"]["repo_url"][0]
    with override_settings(SCANPULSE_ALLOW_LOCAL_REPOS=False):
        refused = create(tenant, name="b", repo_url=str(repo_dir))
        file_url = create(tenant, name="c", repo_url=repo_dir.as_uri())
    assert refused.status_code == 400 and file_url.status_code == 400
    assert "disabled" in refused.json()["error"]["fields"]["repo_url"][0]


def test_field_errors_are_reported_together(tenant) -> None:
    response = create(tenant, name="x" * 101, repo_url="ext::x", surprise=1, default_branch="-x")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"name", "repo_url", "surprise", "default_branch"}
    assert fields["surprise"] == ["Unknown field."]


@pytest.mark.parametrize("name", ["a\x00b", "line\nbreak"])
def test_control_characters_in_names_are_refused(tenant, repo_dir: Path, name: str) -> None:
    response = create(tenant, name=name, repo_url=str(repo_dir))
    assert response.status_code == 400 and "name" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "name",
    [
        "admin\u202egnp.exe",  # right-to-left override: shows as "adminexe.png"
        "web\u2066x\u2069",  # isolates
        "\u200eweb",  # left-to-right mark
        "we\u061cb",  # Arabic letter mark
        "we\u200bb",  # zero-width space: "web" twice
        "we\u200db",
        "web\u2060",
        "\ufeffweb",
        "we\u00adb",  # soft hyphen, another format character
        "web\u2028api",  # line separator
        "\u3164",  # Hangul filler: a name that shows as nothing
    ],
)
def test_invisible_and_bidirectional_characters_in_names_are_refused(
    tenant, repo_dir: Path, name: str
) -> None:
    response = create(tenant, name=name, repo_url=str(repo_dir))
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["name"][0]
    assert message.startswith("Invisible and text-direction characters are not allowed (U+")
    assert not Project.objects.exists()

    project = create(tenant, name="web", repo_url=str(repo_dir)).json()
    renamed = tenant.client.patch(f"/api/projects/{project['id']}/", {"name": name}, format="json")
    assert renamed.status_code == 400 and "name" in renamed.json()["error"]["fields"]
    assert Project.objects.get(pk=project["id"]).name == "web"


def test_names_in_any_script_are_accepted(tenant, repo_dir: Path) -> None:
    for name in ["Café", "שלום", "مرحبا", "日本語", "Ελληνικά", "🚀 launch"]:
        response = create(tenant, name=name, repo_url=str(repo_dir))
        assert response.status_code == 201, (name, response.json())
        assert response.json()["name"] == name


@pytest.mark.parametrize("branch", ["a..b", "a b", "a~1", "x.lock", "/x", "-x", "a@{1}"])
def test_invalid_branch_names_are_refused(tenant, repo_dir: Path, branch: str) -> None:
    response = create(tenant, name="p", repo_url=str(repo_dir), default_branch=branch)
    assert response.status_code == 400
    assert "default_branch" in response.json()["error"]["fields"]


def test_duplicate_names_in_one_org_are_refused_but_fine_across_orgs(
    tenant, other_tenant, repo_dir: Path
) -> None:
    assert create(tenant, name="web", repo_url=str(repo_dir)).status_code == 201
    duplicate = create(tenant, name="web", repo_url=str(repo_dir))
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.json()["error"]["fields"]["name"][0]
    assert Project.objects.filter(organization=tenant.org).count() == 1
    assert create(other_tenant, name="web", repo_url=str(repo_dir)).status_code == 201


def test_renaming_onto_an_existing_name_is_refused(tenant, repo_dir: Path) -> None:
    create(tenant, name="a", repo_url=str(repo_dir))
    b = create(tenant, name="b", repo_url=str(repo_dir)).json()
    response = tenant.client.patch(f"/api/projects/{b['id']}/", {"name": "a"}, format="json")
    assert response.status_code == 400
    assert Project.objects.get(pk=b["id"]).name == "b"


def test_wrong_types_and_malformed_json(tenant) -> None:
    wrong = create(tenant, name=["x"], repo_url=5)
    assert wrong.status_code == 400
    malformed = tenant.client.post(
        "/api/projects/", data=b"{not json", content_type="application/json"
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "parse_error"


def test_oversized_bodies_get_413(tenant) -> None:
    response = tenant.client.post(
        "/api/projects/",
        data=b'{"name": "' + b"x" * 400_000 + b'"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_user_in_several_orgs_must_name_the_org(tenant, other_tenant, repo_dir: Path) -> None:
    from scanpulse.tenancy.models import Membership

    Membership.objects.create(user=tenant.user, organization=other_tenant.org, role="member")
    ambiguous = create(tenant, name="p", repo_url=str(repo_dir))
    assert ambiguous.status_code == 400 and "organization" in ambiguous.json()["error"]["fields"]
    chosen = create(tenant, name="p", repo_url=str(repo_dir), organization=str(other_tenant.org.id))
    assert chosen.status_code == 201 and chosen.json()["organization"] == str(other_tenant.org.id)


def test_members_cannot_delete_projects(tenant, repo_dir: Path) -> None:
    from rest_framework.test import APIClient

    from scanpulse.tenancy.services import token_create, user_create

    member = user_create(email="m@acme.example", organization=tenant.org, role="member")
    _, token = token_create(user=member, name="m")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    project = create(tenant, name="p", repo_url=str(repo_dir)).json()
    response = client.delete(f"/api/projects/{project['id']}/")
    assert response.status_code == 403
    assert Project.objects.filter(pk=project["id"]).exists()


def test_members_cannot_change_a_projects_repository(tenant, repo_dir: Path, tmp_path) -> None:
    from rest_framework.test import APIClient

    from scanpulse.tenancy.services import token_create, user_create

    def client_of(email: str, role: str) -> APIClient:
        user = user_create(email=email, organization=tenant.org, role=role)
        _, token = token_create(user=user, name="t")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    member, admin = client_of("m@acme.example", "member"), client_of("a@acme.example", "admin")
    other = tmp_path / "other"
    other.mkdir()
    project = create(tenant, name="p", repo_url=str(repo_dir)).json()
    url = f"/api/projects/{project['id']}/"

    refused = member.patch(url, {"repo_url": str(other)}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "permission_denied",
        "message": "Only owners and admins can change a project's repository.",
        "fields": {},
    }
    assert Project.objects.get(pk=project["id"]).repo_url == str(repo_dir)
    # members still rename and re-branch, and may send the repository unchanged
    unchanged = member.patch(
        url, {"name": "q", "default_branch": "dev", "repo_url": str(repo_dir)}, format="json"
    )
    assert unchanged.status_code == 200 and unchanged.json()["name"] == "q"
    changed = admin.patch(url, {"repo_url": str(other)}, format="json")
    assert changed.status_code == 200 and changed.json()["repo_url"] == str(other)


def test_pagination(tenant, repo_dir: Path) -> None:
    for index in range(7):
        create(tenant, name=f"p{index}", repo_url=str(repo_dir))
    page = tenant.client.get("/api/projects/?page_size=3&page=2").json()
    assert page["count"] == 7
    assert [p["name"] for p in page["results"]] == ["p3", "p4", "p5"]
    assert page["next"] and page["previous"]


@pytest.mark.parametrize("page", ["", "0", "x", "99"])
def test_a_page_that_is_not_a_page_of_the_list_is_a_400_naming_it(tenant, page: str) -> None:
    response = tenant.client.get(f"/api/projects/?page={page}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["page"]


def test_default_scan_config_is_checked_and_only_owners_and_admins_set_it(
    tenant, other_tenant, repo_dir: Path
) -> None:
    from rest_framework.test import APIClient

    from scanpulse.tenancy.services import token_create, user_create

    def client_of(email: str, role: str) -> APIClient:
        user = user_create(email=email, organization=tenant.org, role=role)
        _, token = token_create(user=user, name="t")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    project = create(tenant, name="p", repo_url=str(repo_dir)).json()
    assert project["scan_config"] == ""
    url = f"/api/projects/{project['id']}/"
    config = 'exclude = ["docs/**"]\n[per-path-disable]\n"tests/**" = ["B101"]\n'

    saved = tenant.client.patch(url, {"scan_config": config}, format="json")
    assert saved.status_code == 200 and saved.json()["scan_config"] == config
    assert tenant.client.get(url).json()["scan_config"] == config

    broken = tenant.client.patch(
        url, {"scan_config": 'disable = ["B101"]\nsevrity = {}\n'}, format="json"
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["fields"]["scan_config"] == [
        "project defaults:2: sevrity: unknown key "
        "(known keys: exclude, disable, per-path-disable, severity, analyzers, rule-pack)"
    ]
    syntax = tenant.client.patch(url, {"scan_config": "exclude = [\n"}, format="json")
    assert syntax.status_code == 400
    assert syntax.json()["error"]["fields"]["scan_config"][0].startswith(
        "project defaults:1: not valid TOML"
    )
    assert Project.objects.get(pk=project["id"]).scan_config == config

    member = client_of("m@acme.example", "member")
    refused = member.patch(url, {"scan_config": ""}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "Only owners and admins can change a project's scan configuration."
    )
    assert Project.objects.get(pk=project["id"]).scan_config == config
    admin = client_of("a@acme.example", "admin")
    assert admin.patch(url, {"scan_config": ""}, format="json").status_code == 200
    # another organization's project does not exist for this caller
    stranger = other_tenant.client.patch(url, {"scan_config": config}, format="json")
    assert stranger.status_code == 404
