"""A private repository over HTTPS: a real nginx with TLS and basic authentication in front of
``git http-backend``; scans with the project's token, and where that token must never appear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from scanpulse.scans.models import ScanEvent
from tests.credentials.conftest import (
    ProcessWatch,
    bare_repository,
    create_project,
    database_dump,
    scan_project,
)
from tests.support.private_git import AuthenticatingGitHost

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "glpat-Zq8uV3xNw1TtK7sRb2Lm"
USERNAME = "scan-bot"


def _settings(host: AuthenticatingGitHost) -> override_settings:
    # 127.0.0.1 is not public: the operator allows it, as for any internal git host, and
    # trusts the host's self-signed certificate.
    return override_settings(
        SCANPULSE_GIT_ALLOWED_NETWORKS=["127.0.0.0/8"], SCANPULSE_GIT_CA_BUNDLE=str(host.cert)
    )


def test_the_right_token_fetches_and_the_token_appears_nowhere(
    tenant, tmp_path: Path, all_logs: list[str]
) -> None:
    served = bare_repository(tmp_path, big_file_bytes=768 * 1024)
    with (
        AuthenticatingGitHost(tmp_path / "host", served, USERNAME, TOKEN, rate=256 * 1024) as host,
        _settings(host),
    ):
        project_id = create_project(tenant, "app", host.url("app.git"))
        put = tenant.client.put(
            f"/api/projects/{project_id}/credential",
            {"kind": "https_token", "username": USERNAME, "token": TOKEN},
            format="json",
        )
        assert put.status_code == 201, put.json()
        assert put.json()["fingerprint"].startswith("hmac:")
        with ProcessWatch(TOKEN) as watch:
            scan = scan_project(tenant, project_id)
        assert scan.status == "completed", scan.error_message
        assert scan.findings.filter(rule_id="B602").exists()
        assert '"GET /app.git/info/refs?service=git-upload-pack HTTP/1.1" 200' in host.access_log
        assert f" {USERNAME} " in host.access_log  # nginx let the user in with the token

        answers = [
            put.content,
            tenant.client.get(f"/api/projects/{project_id}/credential").content,
            tenant.client.get(f"/api/projects/{project_id}/").content,
            tenant.client.get(f"/api/scans/{scan.id}/").content,
            tenant.client.get(f"/api/scans/{scan.id}/events").content,
        ]
    # git's transport ran (and was seen) while the fetch was throttled
    assert watch.git_transports, f"no git transport seen in {watch.samples} samples"
    assert watch.found == []
    assert not any(TOKEN.encode() in answer for answer in answers)
    events = json.dumps(list(ScanEvent.objects.values_list("data", flat=True)), default=str)
    assert TOKEN not in events
    assert any("INSERT INTO" in line and "credentials_credential" in line for line in all_logs)
    assert not any(TOKEN in line for line in all_logs)
    dump = database_dump()
    assert "credentials.Credential" in dump and TOKEN not in dump
    # and the private directory it was handed in is gone with the fetch
    assert not list(Path(tmp_path).glob("**/askpass"))


def test_a_wrong_token_fails_with_one_clear_message(tenant, tmp_path: Path) -> None:
    served = bare_repository(tmp_path)
    with (
        AuthenticatingGitHost(tmp_path / "host", served, USERNAME, TOKEN) as host,
        _settings(host),
    ):
        project_id = create_project(tenant, "app", host.url("app.git"))
        assert (
            tenant.client.put(
                f"/api/projects/{project_id}/credential",
                {"kind": "https_token", "username": USERNAME, "token": "glpat-not-the-token"},
                format="json",
            ).status_code
            == 201
        )
        failed = scan_project(tenant, project_id)
        assert failed.status == "failed"
        assert failed.error_message == (
            "The git host refused the credentials for project 'app': check that the token is "
            "still valid and may read this repository."
        )
        assert "glpat-not-the-token" not in database_dump().replace(failed.error_message, "")

        # without any credential, the host's refusal says so
        assert tenant.client.delete(f"/api/projects/{project_id}/credential").status_code == 204
        anonymous = scan_project(tenant, project_id)
        assert anonymous.error_message == (
            "The repository needs credentials that this server does not have."
        )


def test_an_organization_token_serves_several_projects(tenant, tmp_path: Path) -> None:
    served = bare_repository(tmp_path)
    with (
        AuthenticatingGitHost(tmp_path / "host", served, USERNAME, TOKEN) as host,
        _settings(host),
    ):
        created = tenant.client.post(
            f"/api/organizations/{tenant.org.id}/credentials/",
            {"name": "ci-bot", "kind": "https_token", "username": USERNAME, "token": TOKEN},
            format="json",
        )
        assert created.status_code == 201, created.json()
        credential = created.json()
        assert "token" not in credential and TOKEN not in json.dumps(credential)
        for name in ("one", "two"):
            project_id = create_project(tenant, name, host.url("app.git"))
            used = tenant.client.post(
                f"/api/projects/{project_id}/credential/use",
                {"credential": credential["id"]},
                format="json",
            )
            assert used.status_code == 200, used.json()
            assert used.json()["credential"]["name"] == "ci-bot"
            assert scan_project(tenant, project_id).status == "completed"
        listed = tenant.client.get(f"/api/organizations/{tenant.org.id}/credentials/").json()
        assert [(c["name"], c["used_by_projects"]) for c in listed] == [("ci-bot", 2)]
        assert listed[0]["last_used_at"] is not None
        # in use: not deleted under its projects' feet
        refused = tenant.client.delete(
            f"/api/organizations/{tenant.org.id}/credentials/{credential['id']}/"
        )
        assert refused.status_code == 409


def test_a_token_does_not_open_the_ssrf_rules(tenant, tmp_path: Path) -> None:
    """With credentials as without, a host that is not public must be allowed by the operator."""
    served = bare_repository(tmp_path)
    with AuthenticatingGitHost(tmp_path / "host", served, USERNAME, TOKEN) as host:
        with _settings(host):
            project_id = create_project(tenant, "app", host.url("app.git"))
            tenant.client.put(
                f"/api/projects/{project_id}/credential",
                {"kind": "https_token", "username": USERNAME, "token": TOKEN},
                format="json",
            )
        with override_settings(SCANPULSE_GIT_CA_BUNDLE=str(host.cert)):
            refused = scan_project(tenant, project_id)
        assert refused.status == "failed"
        assert refused.error_message == (
            "The repository's host could not be reached or is not allowed on this server."
        )
        assert "info/refs" not in host.access_log
