"""Where a project may point, as the API answers it: no internal hosts (in any spelling, by
name or by address) unless the operator allows them, no credentials in query strings, and
local paths only under the organization's own roots, never the data directory or the
installation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

import scanpulse
from scanpulse.projects.models import Project
from tests.support.git_http import HOST_REFUSED
from tests.support.repos import make_repo


def create(tenant, **fields):
    return tenant.client.post("/api/projects/", fields, format="json")


def repo_url_errors(response) -> list[str]:
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"]["code"] == "invalid"
    return body["error"]["fields"]["repo_url"]


INTERNAL = [
    "https://127.0.0.1/r.git",
    "https://127.0.0.1:8443/r.git",
    "https://[::1]/r.git",
    "https://[::ffff:127.0.0.1]/r.git",
    "https://[::ffff:7f00:1]/r.git",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/r.git",
    "https://0x7f000001/r.git",
    "https://2130706433/r.git",
    "https://017700000001/r.git",
    "https://0177.0.0.1/r.git",
    "https://127.1/r.git",
    "https://0.0.0.0/r.git",
    "https://10.0.0.1/r.git",
    "https://172.16.5.4/r.git",
    "https://192.168.1.1/r.git",
    "https://100.64.0.1/r.git",
    "https://[fd12:3456::1]/r.git",
    "https://[fe80::1]/r.git",
    "https://224.0.0.1/r.git",
    "https://localhost/r.git",
    "https://LOCALHOST:22/r.git",
    "ssh://git@127.0.0.1/r.git",
    "ssh://git@localhost:2222/r.git",
    "ssh://git@[::1]/r.git",
    "git@127.0.0.1:r.git",
    "git@localhost:org/r.git",
    "git@0x7f000001:r.git",
]


@pytest.mark.parametrize("repo_url", INTERNAL)
def test_internal_hosts_are_refused_with_one_message(tenant, repo_url: str) -> None:
    response = create(tenant, name="internal", repo_url=repo_url)
    assert repo_url_errors(response) == [HOST_REFUSED]
    assert not Project.objects.exists()


def test_changing_a_project_to_an_internal_host_is_refused(tenant) -> None:
    project = create(tenant, name="p", repo_url="https://github.com/pallets/flask.git").json()
    response = tenant.client.patch(
        f"/api/projects/{project['id']}/",
        {"repo_url": "https://169.254.169.254/latest/meta-data/iam"},
        format="json",
    )
    assert repo_url_errors(response) == [HOST_REFUSED]
    assert Project.objects.get(pk=project["id"]).repo_url == "https://github.com/pallets/flask.git"


def test_the_allow_list_lets_operators_scan_internal_git_hosts(tenant) -> None:
    with override_settings(SCANPULSE_GIT_ALLOWED_NETWORKS=["127.0.0.0/8", "git.internal"]):
        assert create(tenant, name="a", repo_url="https://127.0.0.1/r.git").status_code == 201
        assert create(tenant, name="b", repo_url="git@localhost:r.git").status_code == 201
        assert create(tenant, name="c", repo_url="https://git.internal/r.git").status_code == 201
        # still refused: outside the allowed networks, and metadata whatever is allowed
        refused = create(tenant, name="d", repo_url="https://10.0.0.1/r.git")
        assert repo_url_errors(refused) == [HOST_REFUSED]
    with override_settings(SCANPULSE_GIT_ALLOWED_NETWORKS=["0.0.0.0/0", "::/0"]):
        metadata = create(tenant, name="e", repo_url="https://169.254.169.254/r.git")
        assert repo_url_errors(metadata) == [HOST_REFUSED]


@pytest.mark.parametrize(
    "repo_url",
    [
        "https://github.com/o/r.git?access_token=ghp_s3cr3tT0kenValue1234567890abcd",
        "https://gitlab.com/o/r.git?private_token=glpat-s3cr3tT0kenValue12",
        "https://github.com/o/r.git?x=1&token=s3cr3tT0kenValue",
        "https://github.com/o/r.git#s3cr3tT0kenValue",
        "ssh://git@github.com/o/r.git?key=s3cr3tT0kenValue",
    ],
)
def test_credentials_in_query_strings_are_refused_and_never_echoed(tenant, repo_url: str) -> None:
    response = create(tenant, name="x", repo_url=repo_url)
    errors = repo_url_errors(response)
    assert "s3cr3tT0kenValue" not in response.content.decode()
    assert "Credentials must not be embedded in the URL" in errors[0]
    assert not Project.objects.exists()

    project = create(tenant, name="y", repo_url="https://github.com/o/r.git").json()
    patched = tenant.client.patch(
        f"/api/projects/{project['id']}/", {"repo_url": repo_url}, format="json"
    )
    assert "s3cr3tT0kenValue" not in patched.content.decode()
    assert "Credentials must not be embedded in the URL" in repo_url_errors(patched)[0]
    listing = tenant.client.get("/api/projects/").content.decode()
    assert "s3cr3tT0kenValue" not in listing


# -- local paths --------------------------------------------------------------------------------


@pytest.fixture
def org_roots(tmp_path: Path):
    """Each organization's own directory: ``<tmp>/roots/<organization id>``."""
    with override_settings(SCANPULSE_LOCAL_REPO_ROOTS=[str(tmp_path / "roots" / "{org}")]):
        yield lambda tenant: tmp_path / "roots" / str(tenant.org.id)


def test_another_organizations_repository_cannot_be_registered(
    tenant, other_tenant, org_roots, tmp_path: Path
) -> None:
    theirs = make_repo(org_roots(other_tenant) / "secret", {"key.py": "KEY = 1\n"})
    mine = make_repo(org_roots(tenant) / "app", {"app.py": "x = 1\n"})
    (org_roots(tenant) / "link").symlink_to(theirs)
    expected = [f"Local repositories of your organization must lie under {org_roots(tenant)}."]

    assert create(other_tenant, name="secret", repo_url=str(theirs)).status_code == 201
    assert create(tenant, name="app", repo_url=str(mine)).status_code == 201
    for location in (
        str(theirs),
        theirs.as_uri(),
        str(org_roots(tenant) / "link"),  # a link in my root to their repository
        f"{org_roots(tenant)}/../{other_tenant.org.id}/secret",
        str(org_roots(tenant).parent),  # the roots of all organizations
        str(tmp_path / "nowhere"),  # outside every root: not even whether it exists is told
    ):
        assert repo_url_errors(create(tenant, name="x", repo_url=location)) == expected, location
    assert list(Project.objects.filter(organization=tenant.org).values_list("name", flat=True)) == [
        "app"
    ]


def test_inside_its_root_a_missing_directory_is_reported(tenant, org_roots) -> None:
    response = create(tenant, name="x", repo_url=str(org_roots(tenant) / "missing"))
    assert repo_url_errors(response) == ["No directory exists at that local path."]


def test_the_data_directory_and_the_installation_are_never_scanned(tenant, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "work").mkdir(parents=True)
    (data_dir / "secret_key").write_text("do-not-read\n")
    installation = Path(scanpulse.__file__).resolve().parent
    elsewhere = make_repo(tmp_path / "elsewhere", {"app.py": "x = 1\n"})
    shared_root = ["/"]  # every directory of the machine, shared by all organizations
    with override_settings(
        SCANPULSE_LOCAL_REPO_ROOTS=shared_root,
        DATA_DIR=data_dir,
        SCANPULSE_WORK_DIR=data_dir / "work",
    ):
        for location in (
            data_dir,
            data_dir / "work",
            tmp_path,  # contains the data directory
            installation,
            installation / "pipeline",
            installation.parent,  # the source checkout, or the site-packages
        ):
            response = create(tenant, name="x", repo_url=str(location))
            assert repo_url_errors(response) == [
                "Local repositories of your organization must lie under /."
            ], location
        assert create(tenant, name="ok", repo_url=str(elsewhere)).status_code == 201
