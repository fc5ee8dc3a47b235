"""Scheduling across organizations on a real embedded server (``scanpulse serve``: SQLite,
the in-process pool): one organization's many queued scans do not hold back another's, and
the scans an organization may queue are limited (429).

The same is measured with Celery workers on PostgreSQL in tests/faults/test_fairness.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.support import clean_env, run_cli
from tests.support.analyzers import paced_settings
from tests.support.fairness import assert_started_in_the_first_free_slot
from tests.support.repos import make_repo
from tests.support.services import ServerFactory, ServerProcess

pytestmark = [pytest.mark.services, pytest.mark.slow]

TERMINAL = ("completed", "failed", "cancelled")
SLOTS = 2  # SCANPULSE_WORKER_CONCURRENCY of the server
# A slot that frees hands over to the next scan in the same thread, at once; one second
# covers a busy 2-core machine (measured: a few hundredths of a second).
HAND_OVER_SLACK = 1.0


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    with ServerFactory(tmp_path) as start:
        yield start


class User:
    """A member of one organization, talking to the server's API with a token."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def project(self, name: str, repo: Path) -> str:
        response = self.client.post("/api/projects/", json={"name": name, "repo_url": str(repo)})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def queue(self, project: str) -> httpx.Response:
        return self.client.post("/api/scans/", json={"project": project})

    def start(self, project: str) -> dict[str, Any]:
        response = self.queue(project)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def scan(self, scan_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/api/scans/{scan_id}/").json())

    def scans(self, project: str) -> list[dict[str, Any]]:
        page = self.client.get("/api/scans/", params={"project": project, "page_size": 500})
        return list(page.json()["results"])

    def wait(self, scan_id: str, until: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            scan = self.scan(scan_id)
            if until(scan):
                return scan
            assert time.monotonic() < deadline, scan
            time.sleep(0.05)

    def cancel_all(self, project: str) -> None:
        """Leave nothing running behind the test."""
        for scan in self.scans(project):
            if scan["status"] not in TERMINAL:
                self.client.post(f"/api/scans/{scan['id']}/cancel")
        for scan in self.scans(project):
            self.wait(scan["id"], lambda s: s["status"] in TERMINAL, 30)


def repository(path: Path, files: int) -> Path:
    return make_repo(path, {f"pkg/m{index:03d}.py": f"VALUE = {index}\n" for index in range(files)})


def running(scan: dict[str, Any]) -> bool:
    return scan["status"] == "running"


def test_a_scan_of_another_organization_starts_in_the_next_free_slot(
    servers, tenant, other_tenant, tmp_path
) -> None:
    # given: a server with two slots; organization A queues ten scans of about 3 s each
    server = servers(
        **paced_settings(0.1),
        SCANPULSE_WORKER_CONCURRENCY=str(SLOTS),
        SCANPULSE_ANALYZER_WORKERS="1",
    )
    a, b = User(server, tenant.token), User(server, other_tenant.token)
    a_project = a.project("busy", repository(tmp_path / "busy", 30))
    b_project = b.project("single", repository(tmp_path / "single", 5))
    first = [a.start(a_project) for _ in range(SLOTS)]
    for scan in first:
        a.wait(scan["id"], running)
    for _ in range(8):
        a.start(a_project)

    try:
        # when: organization B queues one scan
        response = b.queue(b_project)
        queued_at = datetime.now(UTC)
        assert response.status_code == 201, response.text

        # then: it says why it waits, and starts as soon as one of A's scans ends
        waiting = response.json()
        assert (waiting["status"], waiting["step"]) == (
            "pending",
            "Queued: waiting for a free worker",
        )
        done = b.wait(waiting["id"], lambda s: s["status"] in TERMINAL)
        assert done["status"] == "completed", done
        wait = assert_started_in_the_first_free_slot(
            done, a.scans(a_project), queued=queued_at, slack=HAND_OVER_SLACK
        )
        assert wait.queued_ahead >= 6  # first in, first out, it would have waited for those
        print(f"embedded, organization B's scan: {wait}")
    finally:
        a.cancel_all(a_project)


def test_an_organization_may_queue_only_so_many_scans(
    servers, tenant, other_tenant, tmp_path
) -> None:
    # given: one slot, busy with a long scan, and a limit of three waiting scans
    server = servers(
        **paced_settings(1.0),
        SCANPULSE_WORKER_CONCURRENCY="1",
        SCANPULSE_MAX_PENDING_SCANS_PER_ORG="3",
    )
    a, b = User(server, tenant.token), User(server, other_tenant.token)
    repo = repository(tmp_path / "repo", 60)
    a_project = a.project("a", repo)
    b_project = b.project("b", repo)
    busy = a.start(a_project)
    a.wait(busy["id"], running)
    waiting = [a.start(a_project) for _ in range(3)]
    try:
        # when: a fourth scan would wait too
        refused = a.queue(a_project)

        # then: 429 in the API's error shape, saying why and when to try again
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        error = refused.json()["error"]
        assert error["code"] == "queue_full"
        assert error["message"] == (
            "Organization acme already has 3 scans waiting for a worker, the most it may "
            "queue (limit 3). Try again once some have started, or cancel some."
        )
        assert error["fields"] == {}
        assert len(a.scans(a_project)) == 4  # nothing was created

        # ... the command-line client shows that message and exits as for a busy server
        cli = run_cli(
            clean_env(tmp_path / "home"),
            "scan",
            str(repo),
            "--server",
            server.url,
            "--token",
            tenant.token,
        )
        assert cli.returncode == 4, cli.stderr
        assert (
            "The server answered 429: Organization acme already has 3 scans waiting" in cli.stderr
        )
        assert "The server says to retry in 30 s." in cli.stderr

        # ... another organization is not affected
        assert b.queue(b_project).status_code == 201

        # ... and once one of A's waiting scans is cancelled, A may queue again
        a.client.post(f"/api/scans/{waiting[0]['id']}/cancel")
        assert a.queue(a_project).status_code == 201
        assert a.queue(a_project).status_code == 429
    finally:
        a.cancel_all(a_project)
        b.cancel_all(b_project)


def test_the_page_says_when_the_queue_is_full(tenant, tmp_path, settings) -> None:
    from django.test import Client

    from scanpulse.projects.models import Project
    from scanpulse.scans.models import Scan

    settings.SCANPULSE_MAX_PENDING_SCANS_PER_ORG = 1
    project = Project.objects.create(
        organization=tenant.org, name="web", repo_url=str(repository(tmp_path / "repo", 1))
    )
    Scan.objects.create(project=project, organization=tenant.org, ref="main")  # waiting
    browser = Client()
    browser.force_login(tenant.user)

    page = browser.post(f"/projects/{project.id}/scans", {"ref": ""})

    assert page.status_code == 429
    assert page["Retry-After"] == "30"
    assert (
        "Organization acme already has 1 scan waiting for a worker, the most it may queue "
        "(limit 1)." in page.content.decode()
    )
    assert Scan.objects.filter(project=project).count() == 1
