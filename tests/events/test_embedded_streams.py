"""Live progress of real scans in the embedded server (one process, in-memory bus), read by
a resuming client, by Prometheus, and by a real EventSource in headless Chromium."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan
from tests.support.analyzers import paced_settings
from tests.support.browser import CHROMIUM_ARGS, require_chromium
from tests.support.repos import GitRepo
from tests.support.sse import StreamParser

pytestmark = pytest.mark.services

FILES = 12


def paced_env(**extra: str) -> dict[str, str]:
    return {**paced_settings(0.15), **extra}


@pytest.fixture
def project(tenant, tmp_path) -> Project:
    repo = GitRepo(tmp_path / "repo")
    for index in range(FILES):
        repo.write(f"file{index:02}.txt", "x\n")
    repo.commit()
    return Project.objects.create(organization=tenant.org, name="paced", repo_url=str(repo.path))


def start(server, tenant, project) -> str:
    response = httpx.post(
        f"{server.url}/api/scans/",
        json={"project": str(project.id)},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def follow(server, token: str, scan_id: str) -> tuple[list[dict], int]:
    """Read the scan's stream like EventSource does, reconnecting with Last-Event-ID until
    the server answers 204. Returns the events and the number of connections."""
    cursor: str | None = None
    events: list[dict] = []
    connections = 0
    while True:
        headers = {"Authorization": f"Bearer {token}"}
        if cursor is not None:
            headers["Last-Event-ID"] = cursor
        with httpx.stream(
            "GET", f"{server.url}/api/scans/{scan_id}/progress", headers=headers, timeout=30
        ) as response:
            if response.status_code == 204:
                return events, connections
            assert response.status_code == 200
            connections += 1
            parser = StreamParser()
            for chunk in response.iter_raw():
                parser.feed(chunk)
            events.extend(json.loads(event.data) for event in parser.events)
            cursor = parser.last_event_id or cursor


def test_a_client_resuming_across_cut_streams_sees_every_event_once(
    servers, tenant, project
) -> None:
    server = servers(**paced_env(SCANPULSE_SSE_MAX_LIFETIME_SECONDS="0.6"))
    scan_id = start(server, tenant, project)

    events, connections = follow(server, tenant.token, scan_id)

    assert connections >= 3, "the server cut the stream several times"
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    looked_at = [
        event["data"]["message"]
        for event in events
        if event["kind"] == "log" and "looked at" in event["data"]["message"]
    ]
    assert looked_at == [f"paced: looked at file{index:02}.txt" for index in range(FILES)]
    assert events[-1]["kind"] == "completed"


def test_metrics_count_streams_deliveries_and_latency(servers, tenant, project) -> None:
    server = servers(**paced_env())
    scan_id = start(server, tenant, project)
    follow(server, tenant.token, scan_id)
    text = httpx.get(f"{server.url}/metrics").text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["scanpulse_stream_deliveries_total"] >= FILES
    assert values["scanpulse_open_streams"] == 0
    assert values["scanpulse_event_latency_seconds_count"] >= 1
    assert values["scanpulse_scan_duration_seconds_count"] == 1


@pytest.mark.browser
def test_a_real_eventsource_parses_the_stream(servers, tenant, project) -> None:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from playwright.sync_api import sync_playwright

    # The server verifies passwords with the production hashers, not the tests' fast one.
    hasher = PBKDF2PasswordHasher()
    tenant.user.password = hasher.encode("a-long-test-password", hasher.salt())
    tenant.user.save()
    server = servers(**paced_env(SCANPULSE_SSE_MAX_LIFETIME_SECONDS="1"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(require_chromium()), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/login/")
            page.fill("input[name=username]", tenant.user.username)
            page.fill("input[name=password]", "a-long-test-password")
            page.click("form button[type=submit]")
            page.wait_for_url(lambda url: "/login/" not in url)
            scan_id = start(server, tenant, project)
            received = page.evaluate(
                """(scanId) => new Promise((resolve, reject) => {
                    const seen = [];
                    const source = new EventSource(`/api/scans/${scanId}/progress`);
                    const kinds = ["status", "step", "progress", "log", "findings", "completed"];
                    for (const kind of kinds) {
                        source.addEventListener(kind, (event) => {
                            const payload = JSON.parse(event.data);
                            seen.push({kind: event.type, id: event.lastEventId, seq: payload.seq});
                            if (kind === "completed") { source.close(); resolve(seen); }
                        });
                    }
                    setTimeout(() => { source.close(); reject(new Error(JSON.stringify(seen))); }, 60000);
                })""",
                scan_id,
            )
        finally:
            browser.close()
    assert [item["seq"] for item in received] == list(range(1, len(received) + 1))
    assert all(item["id"] == str(item["seq"]) for item in received)
    assert received[-1]["kind"] == "completed"
    assert sum(1 for item in received if item["kind"] == "log") >= FILES


def test_logging_out_closes_the_sessions_streams(servers, tenant, project) -> None:
    import re
    import threading

    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    tenant.user.password = hasher.encode("a-long-test-password", hasher.salt())
    tenant.user.save()
    server = servers(**paced_settings(2.0))  # a scan of ~24 s: it outlives the test
    scan_id = start(server, tenant, project)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        form = browser.get("/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        logged_in = browser.post(
            "/login/",
            data={
                "username": tenant.user.username,
                "password": "a-long-test-password",
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": server.url + "/login/"},
        )
        assert logged_in.status_code == 302
        ended = threading.Event()

        def watch() -> None:
            # Another connection with the same session, as a second browser tab would have.
            with (
                httpx.Client(base_url=server.url, cookies=browser.cookies, timeout=30) as tab,
                tab.stream("GET", f"/api/scans/{scan_id}/progress?last_event_id=0") as stream,
            ):
                assert stream.status_code == 200
                for _chunk in stream.iter_raw():
                    pass
            ended.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(1)
        csrf = browser.cookies["csrftoken"]
        logged_out = browser.post(
            "/logout/", data={"csrfmiddlewaretoken": csrf}, headers={"Referer": server.url + "/"}
        )
        assert logged_out.status_code == 302
        assert ended.wait(5), "the stream outlived the session"
        watcher.join()
        assert Scan.objects.get(pk=scan_id).status == "running", (
            "it ended by logout, not by the end"
        )
        refused = browser.get(f"/api/scans/{scan_id}/progress")
        assert refused.status_code == 401
