"""The web UI in a real headless Chromium against real servers: what a user sees while scans
start, stream, lose their stream, finish, get cancelled — and what they must never see."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.web.harness import PASSWORD, Account, Site, files

pytestmark = pytest.mark.browser

VULNERABLE_APP = {
    "app/report.py": (
        "import subprocess\n\n\n"
        "def run(name):\n"
        '    return subprocess.call("report --name " + name, shell=True)\n'
    ),
    "app/settings.py": 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n',
    "requirements.txt": "django>=3.2\nrequests==2.31.0\n",
}


def log_in(page: Page, site: Site, account: Account) -> None:
    page.goto(site.url + "/login/")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Active scans")).to_be_visible()


def progressbar(page: Page) -> Locator:
    return page.get_by_role("progressbar", name="Scan progress")


def status_badge(page: Page) -> Locator:
    return page.locator(".scan-live .page-head .badge")


def log_lines(page: Page) -> list[str]:
    return page.get_by_role("log").locator(".log-message").all_text_contents()


def logged_messages(site: Site, scan_id: str) -> list[str]:
    """The scan's log as the API has it: what the page must show, once each, in order."""
    return [
        event["data"]["message"]
        for event in site.events(scan_id)
        if event["kind"] in ("log", "attempt")
    ]


def requests_to(page: Page, pattern: str) -> list[Request]:
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if pattern in request.url else None)
    return seen


def api_error_fields(site: Site, payload: dict[str, Any]) -> dict[str, list[str]]:
    with site.api() as api:
        response = api.post("/api/projects/", json=payload)
    assert response.status_code == 400
    fields: dict[str, list[str]] = response.json()["error"]["fields"]
    return fields


def test_a_scan_started_from_the_ui_runs_the_real_analyzers_to_its_findings(
    page: Page, real_site: Site
) -> None:
    # given a user without projects
    log_in(page, real_site, real_site.seed.alice)
    page.get_by_role("link", name="Projects").click()
    expect(page.get_by_text("No projects yet")).to_be_visible()

    # when they add one with invalid input, they read the API's own messages
    bad = {"name": "", "repo_url": "ext::sh -c touch% /tmp/pwned"}
    page.get_by_label("Name").fill(bad["name"])
    page.get_by_label("Repository").fill(bad["repo_url"])
    page.get_by_role("button", name="Add project").click()
    for field, messages in api_error_fields(real_site, bad).items():
        for message in messages:
            expect(page.get_by_text(message, exact=True)).to_be_visible()
        assert field in ("name", "repo_url")
    expect(page.get_by_label("Repository")).to_have_attribute("aria-invalid", "true")

    # and with valid input they land on the project, and start a scan
    repo = real_site.repository("shop", VULNERABLE_APP)
    page.get_by_label("Name").fill("shop")
    page.get_by_label("Repository").fill(str(repo))
    page.get_by_role("button", name="Add project").click()
    expect(page.get_by_role("heading", name="shop")).to_be_visible()
    expect(page.get_by_text("No scans yet")).to_be_visible()
    project_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    with real_site.api() as api:
        refused = api.post("/api/scans/", json={"project": project_id, "ref": "-x"})
    page.get_by_label("Ref").fill("-x")
    page.get_by_role("button", name="Start scan").click()
    expect(page.get_by_text(refused.json()["error"]["fields"]["ref"][0])).to_be_visible()
    page.get_by_label("Ref").fill("")
    page.get_by_role("button", name="Start scan").click()

    # then the scan reaches 100% and lists its findings
    expect(progressbar(page)).to_have_attribute("aria-valuenow", "100", timeout=60_000)
    expect(progressbar(page)).to_have_attribute("aria-valuemin", "0")
    expect(progressbar(page)).to_have_attribute("aria-valuemax", "100")
    expect(status_badge(page)).to_have_text("Completed")
    findings = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Rule"))
    expect(findings.get_by_role("row").filter(has_text="B602")).to_contain_text("High")
    expect(findings.get_by_role("row").filter(has_text="app/settings.py:1")).to_be_visible()
    expect(findings.get_by_role("row").filter(has_text="requirements.txt")).to_be_visible()
    # without an advisory database the page says so instead of implying "no vulnerabilities"
    expect(
        page.get_by_text("No advisory database loaded: dependencies were not checked")
    ).to_be_visible()
    expect(page.get_by_role("log")).to_contain_text("no advisory database loaded")
    # ... and that the scan is incomplete, naming what was not checked and why
    incomplete = page.locator("[data-incomplete]")
    expect(incomplete).to_contain_text("This scan is incomplete: 1 manifest not checked.")
    expect(incomplete).to_contain_text("requirements.txt not checked (dependencies)")
    expect(incomplete).to_contain_text("no advisory database loaded")

    # the severity filter narrows the table
    page.get_by_label("Severity").select_option("high")
    page.get_by_role("button", name="Filter").click()
    severities = findings.locator("tbody tr td:first-child").all_text_contents()
    assert severities and {text.strip() for text in severities} == {"High"}

    # and the SARIF report downloads
    href = page.get_by_role("link", name="Download SARIF").get_attribute("href")
    assert href is not None and re.fullmatch(r"/api/scans/[0-9a-f-]{36}/sarif", href)
    report = page.request.get(real_site.url + href)
    assert report.status == 200
    assert json.loads(report.body())["version"] == "2.1.0"


def test_the_log_continues_without_gap_or_repeat_when_the_server_cuts_the_stream(
    page: Page, cutting_site: Site
) -> None:
    # given a scan of 14 files at 0.3 s each, streamed by a server ending streams every ~1.5 s
    names = files(14)
    project = cutting_site.project("cut", names)
    log_in(page, cutting_site, cutting_site.seed.alice)
    streams = requests_to(page, "/progress")
    scan = cutting_site.start_scan(project["id"])

    # when its page follows it to the end
    page.goto(f"{cutting_site.url}/scans/{scan['id']}/")
    expect(status_badge(page)).to_have_text("Completed", timeout=30_000)
    expect(progressbar(page)).to_have_attribute("aria-valuenow", "100")

    # then every line appears exactly once, in order, although the stream was cut repeatedly
    shown = log_lines(page)
    assert [line for line in shown if line.startswith("paced: looked at ")] == [
        f"paced: looked at {name}" for name in sorted(names)
    ]
    assert shown == logged_messages(cutting_site, scan["id"])
    assert len(streams) >= 2
    assert any("last-event-id" in request.all_headers() for request in streams[1:])


def test_the_page_keeps_updating_by_polling_when_the_stream_is_unavailable(
    page: Page, paced_site: Site
) -> None:
    # given a stream endpoint that always fails
    page.route("**/progress**", lambda route: route.fulfill(status=503, body="unavailable"))
    project = paced_site.project("polled", files(24))
    log_in(page, paced_site, paced_site.seed.alice)

    # when a scan is started from its project page
    page.goto(f"{paced_site.url}/projects/{project['id']}/")
    page.get_by_role("button", name="Start scan").click()

    # then the page says it polls, and shows progress while the scan is still running
    expect(page.get_by_text("checking for updates")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("log")).to_contain_text("paced: looked at module_12.py")
    expect(status_badge(page)).to_have_text("Running")
    assert 0 < int(progressbar(page).get_attribute("aria-valuenow") or 0) < 100

    # and it follows the scan to its end, with the complete log
    expect(status_badge(page)).to_have_text("Completed", timeout=30_000)
    expect(progressbar(page)).to_have_attribute("aria-valuenow", "100")
    scan_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert log_lines(page) == logged_messages(paced_site, scan_id)
    expect(page.get_by_role("cell", name="paced through module_24.py")).to_be_visible()


def test_too_many_streams_switches_to_polling_at_once(page: Page, paced_site: Site) -> None:
    # given an organization over its stream limit (the server answers 429)
    page.route(
        "**/progress**",
        lambda route: route.fulfill(status=429, headers={"retry-after": "10"}, body="busy"),
    )
    project = paced_site.project("limited", files(4))
    log_in(page, paced_site, paced_site.seed.alice)
    attempts = requests_to(page, "/progress")

    # when a scan's page opens
    page.goto(f"{paced_site.url}/projects/{project['id']}/")
    page.get_by_role("button", name="Start scan").click()

    # then it polls after one refused stream (and one probe of why), and still sees the end
    expect(page.get_by_text("checking for updates")).to_be_visible(timeout=5_000)
    expect(status_badge(page)).to_have_text("Completed", timeout=20_000)
    assert [request.resource_type for request in attempts] == ["eventsource", "fetch"]


def test_a_hidden_tab_pauses_and_catches_up_when_shown_again(page: Page, paced_site: Site) -> None:
    project = paced_site.project("hidden", files(12))
    log_in(page, paced_site, paced_site.seed.alice)
    scan = paced_site.start_scan(project["id"])
    page.goto(f"{paced_site.url}/scans/{scan['id']}/")
    expect(page.get_by_role("log")).to_contain_text("paced: looked at module_02.py")

    # when the tab is hidden, the page stops following the scan
    set_hidden(page, True)
    expect(page.get_by_text("Paused while this tab is hidden")).to_be_visible()
    shown_while_hidden = log_lines(page)
    wait_until_finished(paced_site, scan["id"])
    assert log_lines(page) == shown_while_hidden
    expect(status_badge(page)).not_to_have_text("Completed")

    # and when it is shown again, it resumes from where it stopped
    set_hidden(page, False)
    expect(status_badge(page)).to_have_text("Completed")
    assert log_lines(page) == logged_messages(paced_site, scan["id"])


def set_hidden(page: Page, hidden: bool) -> None:
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
            Object.defineProperty(document, "visibilityState",
                {value: hidden ? "hidden" : "visible", configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def wait_until_finished(site: Site, scan_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while site.scan(scan_id)["status"] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, "the scan did not finish"
        time.sleep(0.2)


def test_a_stream_with_repeated_and_missing_events_renders_each_event_once(
    page: Page, paced_site: Site
) -> None:
    # given a stream that repeats events, skips some and sends stale ones (served from the
    # real log, with its real numbers)
    project = paced_site.project("seq", files(16))
    scan = paced_site.start_scan(project["id"])
    served_gaps = 0

    def unreliable_stream(route: Route) -> None:
        nonlocal served_gaps
        request = route.request
        cursor = (
            request.headers.get("last-event-id")
            or parse_qs(urlsplit(request.url).query)["last_event_id"][0]
        )
        events = paced_site.events(scan["id"], after=int(cursor))
        sent = events[:1] * 2  # a duplicate
        if len(events) >= 3:
            sent += events[2:]  # events[1] never arrives on the stream
            served_gaps += 1
        else:
            sent += events[1:]
        sent += events[:1]  # a stale one after newer ones
        frames = "".join(
            f"event: {event['kind']}\nid: {event['seq']}\ndata: {json.dumps(event)}\n\n"
            for event in sent
        )
        route.fulfill(
            status=200,
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
            body="retry: 300\n\n" + frames,
        )

    page.route("**/progress**", unreliable_stream)
    log_in(page, paced_site, paced_site.seed.alice)

    # when its page follows it
    page.goto(f"{paced_site.url}/scans/{scan['id']}/")
    expect(status_badge(page)).to_have_text("Completed", timeout=30_000)

    # then the log is exactly the scan's log
    assert log_lines(page) == logged_messages(paced_site, scan["id"])
    expect(progressbar(page)).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("[data-role=findings]")).to_have_text("16")
    assert served_gaps > 0


def test_the_dashboard_follows_every_scan_of_the_organization_over_one_connection(
    page: Page, paced_site: Site
) -> None:
    # given one scan running before the dashboard opens, and two started after
    projects = [paced_site.project(f"dash-{index}", files(6)) for index in (1, 2, 3)]
    streams = requests_to(page, "/api/stream")
    scan_streams = requests_to(page, "/progress")
    paced_site.start_scan(projects[0]["id"])
    log_in(page, paced_site, paced_site.seed.alice)
    cards = page.get_by_role("list").filter(has=page.get_by_role("progressbar"))
    expect(cards.get_by_role("listitem").filter(has_text="dash-1")).to_be_visible()
    for project in projects[1:]:
        paced_site.start_scan(project["id"])

    # then each appears and runs to completion on the page
    for name in ("dash-1", "dash-2", "dash-3"):
        card = cards.get_by_role("listitem").filter(has_text=name)
        expect(card.get_by_text("Completed")).to_be_visible(timeout=30_000)
        expect(card.get_by_role("progressbar", name=f"Progress of {name}")).to_have_attribute(
            "aria-valuenow", "100"
        )
        expect(card).to_contain_text("Findings: 6")

    # over a single connection to the organization's stream, and none per scan
    assert len(streams) == 1
    assert scan_streams == []


def test_another_organizations_pages_answer_404(page: Page, paced_site: Site) -> None:
    # given alice's project and scan in acme
    project = paced_site.project("acme-secret", files(1))
    scan = paced_site.start_scan(project["id"])

    # when bob of globex asks for them
    log_in(page, paced_site, paced_site.seed.bob)
    expect(page.get_by_text("No scans are running in globex")).to_be_visible()
    for path in (f"/projects/{project['id']}/", f"/scans/{scan['id']}/"):
        response = page.goto(paced_site.url + path)

        # then they do not exist for him
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.get_by_text("acme-secret")).to_have_count(0)

    # and so do his attempts to act on them
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value") or ""
    for path in (f"/scans/{scan['id']}/cancel", f"/projects/{project['id']}/scans"):
        refused = page.request.post(
            paced_site.url + path, form={"csrfmiddlewaretoken": token}, max_redirects=0
        )
        assert refused.status == 404
    assert paced_site.scan(scan["id"])["cancelled_by"] is None


def test_start_and_cancel_are_usable_with_the_keyboard(page: Page, paced_site: Site) -> None:
    project = paced_site.project("keys", files(40))
    log_in(page, paced_site, paced_site.seed.alice)
    page.goto(f"{paced_site.url}/projects/{project['id']}/")

    tab_to(page, "Start scan")
    page.keyboard.press("Enter")
    expect(status_badge(page)).to_have_text("Running")
    expect(page.get_by_role("log")).to_contain_text("paced: looked at")

    tab_to(page, "Cancel scan")
    page.keyboard.press("Enter")
    expect(status_badge(page)).to_have_text("Cancelled", timeout=15_000)
    expect(page.get_by_text("Scan cancelled by alice@acme.example.", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel scan")).to_have_count(0)
    expect(page.get_by_text("cancelled before it finished")).to_be_visible()


def tab_to(page: Page, label: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.textContent?.trim()") == label:
            return
    raise AssertionError(f"{label!r} is not reachable with Tab")


def test_a_member_of_several_organizations_switches_between_them(
    page: Page, paced_site: Site
) -> None:
    paced_site.project("acme-only", files(1))
    log_in(page, paced_site, paced_site.seed.carol)
    page.get_by_role("link", name="Projects").click()
    expect(page.get_by_role("link", name="acme-only")).to_be_visible()

    page.get_by_label("Organization").select_option(label="globex")
    page.get_by_role("button", name="Switch").click()

    expect(page.get_by_label("Organization")).to_have_value(paced_site.seed.bob.organization_id)
    expect(page.get_by_text("No projects yet")).to_be_visible()
    expect(page.get_by_role("link", name="acme-only")).to_have_count(0)
