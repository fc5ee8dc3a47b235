"""A private repository over SSH: Debian's sshd on a free port with its own host key, letting
in the deploy key scanpulse generated; the host key pinned on first use, a changed key
refused, and let through again once an owner resets the pin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.test import override_settings

from scanpulse.credentials.models import HostKeyPin
from tests.credentials.conftest import ProcessWatch, bare_repository, create_project, scan_project
from tests.support.private_git import SshGitHost

pytestmark = pytest.mark.django_db(transaction=True)

ALLOW_LOOPBACK = override_settings(SCANPULSE_GIT_ALLOWED_NETWORKS=["127.0.0.0/8"])


def _fingerprint(public_key: str) -> str:
    """What ssh-keygen itself says the key's fingerprint is."""
    output = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"],
        input=public_key,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return output.split()[1]


def test_a_generated_deploy_key_fetches_and_the_host_key_is_pinned(tenant, tmp_path: Path) -> None:
    served = bare_repository(tmp_path)
    with SshGitHost(tmp_path / "sshd") as host, ALLOW_LOOPBACK:
        project_id = create_project(tenant, "app", host.url(served / "app.git"))
        generated = tenant.client.put(
            f"/api/projects/{project_id}/credential", {"kind": "ssh_key"}, format="json"
        )
        assert generated.status_code == 201, generated.json()
        key = generated.json()
        assert key["public_key"].startswith("ssh-ed25519 ")
        assert "PRIVATE" not in generated.content.decode()
        assert key["fingerprint"] == _fingerprint(key["public_key"])

        # not yet a deploy key of the repository: refused, with the credential named
        refused = scan_project(tenant, project_id)
        assert refused.error_message == (
            "The git host refused the credentials for project 'app': check that the deploy "
            "key is still valid and may read this repository."
        )

        host.authorize(key["public_key"])
        with ProcessWatch("PRIVATE KEY") as watch:
            scan = scan_project(tenant, project_id)
        assert scan.status == "completed", scan.error_message
        assert scan.findings.filter(rule_id="B602").exists()
        assert watch.git_transports and watch.found == []

        pins = tenant.client.get(f"/api/projects/{project_id}/host-keys/").json()
        assert [(p["host"], p["key_type"], p["fingerprint"]) for p in pins] == [
            (f"[127.0.0.1]:{host.port}", "ssh-ed25519", _fingerprint(host.host_public_key))
        ]

        # the host now presents another key: refused, whatever the deploy key
        pinned = pins[0]["fingerprint"]
        host.new_host_key()
        changed = scan_project(tenant, project_id)
        assert changed.status == "failed"
        assert changed.error_message == (
            "The SSH host key of the repository's host does not match the key pinned for "
            f"project 'app' (ssh-ed25519 {pinned}): the connection was refused. If the host's "
            "key really changed, an owner or admin can reset the pin under Credentials & access."
        )
        assert HostKeyPin.objects.get().fingerprint == pinned  # the pin stays

        # an owner resets the pin: the next fetch trusts and pins the new key
        assert tenant.client.delete(f"/api/projects/{project_id}/host-keys/").status_code == 204
        again = scan_project(tenant, project_id)
        assert again.status == "completed", again.error_message
        assert HostKeyPin.objects.get().fingerprint == _fingerprint(host.host_public_key)


def test_a_key_pinned_by_hand_is_required_from_the_first_fetch(tenant, tmp_path: Path) -> None:
    served = bare_repository(tmp_path)
    with SshGitHost(tmp_path / "sshd") as host, ALLOW_LOOPBACK:
        project_id = create_project(tenant, "app", host.url(served / "app.git"))
        key = tenant.client.put(
            f"/api/projects/{project_id}/credential", {"kind": "ssh_key"}, format="json"
        ).json()
        host.authorize(key["public_key"])
        impostor = SshGitHost(tmp_path / "other")  # a key the real host does not have
        pinned = tenant.client.post(
            f"/api/projects/{project_id}/host-keys/",
            {"host": f"[127.0.0.1]:{host.port}", "public_key": impostor.host_public_key},
            format="json",
        )
        assert pinned.status_code == 201, pinned.json()
        refused = scan_project(tenant, project_id)
        assert refused.error_message.startswith(
            "The SSH host key of the repository's host does not match the key pinned for "
            "project 'app'"
        )
        tenant.client.post(
            f"/api/projects/{project_id}/host-keys/",
            {"host": f"[127.0.0.1]:{host.port}", "public_key": host.host_public_key},
            format="json",
        )
        assert scan_project(tenant, project_id).status == "completed"


def test_an_uploaded_private_key_is_used_and_never_shown(tenant, tmp_path: Path) -> None:
    served = bare_repository(tmp_path)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-C", "mine", "-f", str(tmp_path / "id")],
        check=True,
    )
    private = (tmp_path / "id").read_text()
    public = (tmp_path / "id.pub").read_text().strip()
    with SshGitHost(tmp_path / "sshd") as host, ALLOW_LOOPBACK:
        host.authorize(public)
        project_id = create_project(tenant, "app", host.url(served / "app.git"))
        uploaded = tenant.client.put(
            f"/api/projects/{project_id}/credential",
            {"kind": "ssh_key", "private_key": private},
            format="json",
        )
        assert uploaded.status_code == 201, uploaded.json()
        assert uploaded.json()["fingerprint"] == _fingerprint(public)
        assert scan_project(tenant, project_id).status == "completed"
        body = tenant.client.get(f"/api/projects/{project_id}/credential").content.decode()
        assert "PRIVATE KEY" not in body and private.splitlines()[1] not in body

        broken = tenant.client.put(
            f"/api/projects/{project_id}/credential",
            {"kind": "ssh_key", "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n"},
            format="json",
        )
        assert broken.status_code == 400
        assert "nope" not in broken.content.decode()
