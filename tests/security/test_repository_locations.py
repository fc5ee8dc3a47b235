"""What a real server's worker fetches: never an internal host, whatever the port says; no
redirect to one; only the organization's own local directories, checked again when the scan
runs; and in embedded mode the demo still scans its sample repository."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanpulse.projects.models import Project
from scanpulse.scans.models import TERMINAL_STATUSES, Scan
from tests.support.git_http import (
    HOST_REFUSED,
    Listener,
    closed_port,
    git_http_server,
    redirecting_server,
)
from tests.support.repos import make_repo, vulnerable_repo

pytestmark = pytest.mark.services


def api(server: Any, tenant: Any) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30
    )


def scan_to_the_end(client: httpx.Client, project_id: Any, timeout: float = 120) -> dict:
    started = client.post("/api/scans/", json={"project": str(project_id), "ref": "main"})
    assert started.status_code == 201, started.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scan: dict = client.get(f"/api/scans/{started.json()['id']}/").json()
        if scan["status"] in TERMINAL_STATUSES:
            return scan
        time.sleep(0.2)
    raise TimeoutError(f"scan still {scan['status']} after {timeout} s")


def test_a_worker_never_reaches_internal_hosts_and_open_ports_look_like_closed_ones(
    servers, tenant
) -> None:
    """Projects saved before the check existed, or whose name resolved elsewhere when they
    were saved: the worker checks again, before connecting, and says the same every time."""
    server = servers()
    with Listener() as listener, api(server, tenant) as client:
        closed = closed_port()
        locations = [
            f"https://127.0.0.1:{listener.port}/r.git",
            f"https://127.0.0.1:{closed}/r.git",
            f"ssh://git@127.0.0.1:{listener.port}/r.git",
            f"ssh://git@127.0.0.1:{closed}/r.git",
            f"https://localhost:{listener.port}/r.git",
            "git@localhost:r.git",
            f"https://0x7f000001:{listener.port}/r.git",
            f"https://[::ffff:127.0.0.1]:{listener.port}/r.git",
            "https://169.254.169.254/latest/meta-data/",
        ]
        messages = {}
        for index, location in enumerate(locations):
            project = Project.objects.create(
                organization=tenant.org, name=f"internal-{index}", repo_url=location
            )
            scan = scan_to_the_end(client, project.id)
            assert scan["status"] == "failed", (location, scan)
            messages[location] = scan["error_message"]
        assert listener.connections == 0
    assert set(messages.values()) == {HOST_REFUSED}, messages


def test_allowed_internal_hosts_are_fetched_but_their_redirects_never_followed(
    servers, tenant, tmp_path: Path
) -> None:
    """The operator allows 127.0.0.1; 127.0.0.2 is not allowed, and serves the repository the
    allowed host redirects to."""
    served = tmp_path / "served"
    vulnerable_repo(served / "app.git")
    server = servers(
        SCANPULSE_GIT_ALLOWED_NETWORKS="127.0.0.1/32",
        SCANPULSE_REPO_SCHEMES="https,ssh,http",  # plain HTTP: no certificates to set up
    )
    with (
        git_http_server(served) as allowed,
        git_http_server(served, "127.0.0.2") as refused,
        redirecting_server(f"http://127.0.0.2:{refused.port}") as redirecting,
        api(server, tenant) as client,
    ):
        direct = client.post(
            "/api/projects/",
            json={"name": "direct", "repo_url": f"http://127.0.0.1:{allowed.port}/app.git"},
        )
        assert direct.status_code == 201, direct.text
        done = scan_to_the_end(client, direct.json()["id"])
        assert done["status"] == "completed", done
        assert done["findings_count"] > 0

        redirected = client.post(
            "/api/projects/",
            json={"name": "redirected", "repo_url": f"http://127.0.0.1:{redirecting.port}/app.git"},
        )
        assert redirected.status_code == 201, redirected.text
        failed = scan_to_the_end(client, redirected.json()["id"])
        assert redirecting.requests, "the allowed host was asked"
        assert refused.requests == [], "the redirect to the refused host was not followed"
        assert failed["status"] == "failed"
        assert failed["error_message"] == (
            "The repository's server answered with a redirect, which is never followed: "
            "use the URL it redirects to."
        )

        at_refused = client.post(
            "/api/projects/",
            json={"name": "refused", "repo_url": f"http://127.0.0.2:{refused.port}/app.git"},
        )
        assert at_refused.status_code == 400
        assert at_refused.json()["error"]["fields"]["repo_url"] == [HOST_REFUSED]


def test_a_link_changed_after_saving_cannot_lead_the_worker_to_another_organization(
    servers, tenant, other_tenant, tmp_path: Path
) -> None:
    roots = tmp_path / "roots"
    mine, theirs = roots / str(tenant.org.id), roots / str(other_tenant.org.id)
    make_repo(mine / "app", {"app.py": "print('mine')\n"})
    make_repo(theirs / "secret", {"settings.py": 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n'})
    (mine / "current").symlink_to(mine / "app")
    server = servers(SCANPULSE_LOCAL_REPO_ROOTS=str(roots / "{org}"))
    with api(server, tenant) as client:
        created = client.post(
            "/api/projects/", json={"name": "app", "repo_url": str(mine / "current")}
        )
        assert created.status_code == 201, created.text
        assert scan_to_the_end(client, created.json()["id"])["status"] == "completed"

        (mine / "current").unlink()
        (mine / "current").symlink_to(theirs / "secret")
        swapped = scan_to_the_end(client, created.json()["id"])
    assert swapped["status"] == "failed"
    assert swapped["error_message"] == (
        f"Local repositories of your organization must lie under {mine}."
    )
    assert swapped["findings_count"] == 0


def test_embedded_defaults_keep_the_demo_working_and_the_data_directory_out_of_reach(
    servers, tenant
) -> None:
    server = servers("--demo", SCANPULSE_LOCAL_REPO_ROOTS=None)  # the embedded default
    data_dir = Path(server.env["SCANPULSE_DATA_DIR"]).resolve()
    project = Project.objects.get(organization__name="demo", name="demo-service")
    assert Path(project.repo_url) == (
        data_dir / "repositories" / str(project.organization_id) / "demo-service"
    )
    deadline = time.monotonic() + 120
    scan = Scan.objects.get(project=project)
    while scan.status not in TERMINAL_STATUSES and time.monotonic() < deadline:
        time.sleep(0.2)
        scan.refresh_from_db()
    assert scan.status == "completed", scan.error_message
    assert scan.findings_count > 0

    mine = data_dir / "repositories" / str(tenant.org.id)
    make_repo(mine / "app", {"app.py": "print('mine')\n"})
    expected = [f"Local repositories of your organization must lie under {mine}."]
    with api(server, tenant) as client:
        for location in (
            data_dir,
            data_dir / "work",
            data_dir / "repositories",
            Path(project.repo_url),  # the demo organization's
        ):
            refused = client.post("/api/projects/", json={"name": "x", "repo_url": str(location)})
            assert refused.status_code == 400, location
            assert refused.json()["error"]["fields"]["repo_url"] == expected, location
        created = client.post("/api/projects/", json={"name": "app", "repo_url": str(mine / "app")})
        assert created.status_code == 201, created.text
        assert scan_to_the_end(client, created.json()["id"])["status"] == "completed"
