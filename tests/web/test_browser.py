"""The web UI in a real headless Chromium against real servers: what a user sees while scans
start, stream, lose their stream, finish, get cancelled — and what they must never see."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Request, Route, expect

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
    page.get_by_label("Ref", exact=True).fill("-x")
    page.get_by_role("button", name="Start scan").click()
    expect(page.get_by_text(refused.json()["error"]["fields"]["ref"][0])).to_be_visible()
    page.get_by_label("Ref", exact=True).fill("")
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
    for path in (
        f"/projects/{project['id']}/",
        f"/scans/{scan['id']}/",
        f"/scans/{scan['id']}/cancel",
    ):
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
    scan_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    # Cancel asks first; Escape (or "Keep scanning") leaves the scan running
    confirm = page.get_by_role("dialog", name="Cancel this scan?")
    tab_to(page, "Cancel scan")
    page.keyboard.press("Enter")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("This cannot be undone.")
    expect(confirm.get_by_role("button", name="Keep scanning")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    page.keyboard.press("Enter")  # focus is back on Cancel scan
    expect(confirm).to_be_visible()
    page.keyboard.press("Enter")  # Keep scanning
    expect(confirm).to_be_hidden()
    assert paced_site.scan(scan_id)["status"] == "running"

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(confirm.get_by_role("button", name="Yes, cancel scan")).to_be_focused()
    page.keyboard.press("Enter")
    expect(status_badge(page)).to_have_text("Cancelled", timeout=15_000)
    expect(page.get_by_text("Scan cancelled by alice@acme.example.", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Cancel scan")).to_have_count(0)
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


# --- reading the findings --------------------------------------------------------------------

# B404 (low) on line 1, B602 (high) on line 12
HANDLER = (
    "import subprocess\n"
    + "\n" * 9
    + "def run(name):\n"
    + '    return subprocess.call("report " + name, shell=True)\n'
)
DIRECTORIES = [
    "a",
    "svc",
    "api_v2",
    "payments",
    "integrations",
    "notifications_v2",
    "infrastructure/aws",
    "app/services/payments",
]
SEVERITY_ORDER = ["Critical", "High", "Medium", "Low", "Info"]

# How many lines the characters of a location's file name and line number are spread over.
LINES_OF_NAME_AND_LINE = """(cell) => {
    const text = cell.textContent;
    const start = text.lastIndexOf("/") + 1;
    const tops = new Set();
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let offset = 0;
    while (walker.nextNode()) {
        const node = walker.currentNode;
        for (let index = 0; index < node.length; index++) {
            if (offset + index < start) continue;
            const range = document.createRange();
            range.setStart(node, index);
            range.setEnd(node, index + 1);
            const box = range.getBoundingClientRect();
            if (box.width > 0) tops.add(Math.round(box.top));
        }
        offset += node.length;
    }
    return tops.size;
}"""


@pytest.fixture(scope="module")
def handlers_scan(real_site: Site) -> dict[str, Any]:
    """A completed scan of the real analyzers, whose findings come lows first in file order."""
    sources = {f"{directory}/handlers.py": HANDLER for directory in DIRECTORIES}
    sources["settings.py"] = 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'
    project = real_site.project("handlers", sources)
    scan = real_site.start_scan(project["id"])
    wait_until_finished(real_site, scan["id"], timeout=60)
    finished = real_site.scan(scan["id"])
    assert finished["status"] == "completed", finished
    return finished


def findings_table(page: Page) -> Locator:
    return page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Rule"))


def test_findings_come_most_severe_first_and_locations_keep_name_and_line_together(
    page: Page, real_site: Site, handlers_scan: dict[str, Any]
) -> None:
    log_in(page, real_site, real_site.seed.alice)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{real_site.url}/scans/{handlers_scan['id']}/")
        rows = findings_table(page).locator("tbody tr")
        expect(rows).to_have_count(2 * len(DIRECTORIES) + 1)

        # most severe first, then by path and line
        severities = [text.strip() for text in rows.locator(".severity").all_text_contents()]
        assert severities[0] == "High"
        assert severities == sorted(severities, key=SEVERITY_ORDER.index), severities
        locations = [text.strip() for text in rows.locator(".location").all_text_contents()]
        for severity in set(severities):
            same = [loc for sev, loc in zip(severities, locations, strict=True) if sev == severity]
            assert same == sorted(same, key=lambda loc: (loc.split(":")[0], int(loc.split(":")[1])))
        assert "notifications_v2/handlers.py:12" in locations

        # and "handlers.py:12" is never broken over two lines, however narrow its column
        for cell in rows.locator("td.location").all():
            assert cell.evaluate(LINES_OF_NAME_AND_LINE) == 1, (width, cell.text_content())


def test_on_a_phone_severity_location_and_message_are_on_screen(
    page: Page, real_site: Site, handlers_scan: dict[str, Any]
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, real_site, real_site.seed.alice)
    page.goto(f"{real_site.url}/scans/{handlers_scan['id']}/")

    # nothing on the page scrolls sideways
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] == 390, widths
    region = page.get_by_role("region", name=re.compile(r"^\d+ findings$"))
    assert region.evaluate("(element) => element.scrollWidth <= element.clientWidth")

    # and every finding's severity, location and message lie within the screen
    rows = findings_table(page).locator("tbody tr")
    expect(rows).to_have_count(2 * len(DIRECTORIES) + 1)
    for row in rows.all():
        for part in ("td:has(.severity)", "td.location", "td.message"):
            row.locator(part).scroll_into_view_if_needed()
            box = row.locator(part).bounding_box()
            assert box is not None and box["width"] > 0, part
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (part, box)
    # the rows are still a table to assistive technology: each cell under its column
    expect(findings_table(page).get_by_role("columnheader", name="Message")).to_have_count(1)
    first = rows.first
    expect(first.get_by_role("cell").nth(4)).to_contain_text("handlers.py:12")


# --- how a scan ends, and what comes next ----------------------------------------------------


def step_of(page: Page) -> Locator:
    return page.locator('.progress-panel [data-role="step"]')


def test_a_cancelled_or_failed_scan_shows_how_it_ended_not_its_last_step(
    page: Page, paced_site: Site
) -> None:
    # given a page following a scan in the middle of its analysis
    project = paced_site.project("stopped", files(40))
    scan = paced_site.start_scan(project["id"])
    log_in(page, paced_site, paced_site.seed.alice)
    page.goto(f"{paced_site.url}/scans/{scan['id']}/")
    expect(step_of(page)).to_have_text("Pacing through files")

    # when someone cancels it
    with paced_site.api() as api:
        api.post(f"/api/scans/{scan['id']}/cancel").raise_for_status()

    # then the page says so as it happens, and when loaded again
    expect(status_badge(page)).to_have_text("Cancelled", timeout=15_000)
    expect(step_of(page)).to_have_text("Cancelled")
    page.reload()
    expect(status_badge(page)).to_have_text("Cancelled")
    expect(step_of(page)).to_have_text("Cancelled")
    expect(page.get_by_text("Pacing through files")).to_have_count(0)

    # and a scan that failed while cloning says it failed
    with paced_site.api() as api:
        failed = api.post("/api/scans/", json={"project": project["id"], "ref": "nope"}).json()
    wait_until_finished(paced_site, failed["id"])
    page.goto(f"{paced_site.url}/scans/{failed['id']}/")
    expect(status_badge(page)).to_have_text("Failed")
    expect(step_of(page)).to_have_text("Failed")
    expect(page.get_by_text("Cloning repository")).to_have_count(0)


def test_a_finished_scan_can_be_scanned_again(page: Page, paced_site: Site) -> None:
    # given a completed scan of a tag
    repo = paced_site.repository("again", files(12))
    git_tag(repo, "v1")
    with paced_site.api() as api:
        project = api.post("/api/projects/", json={"name": "again", "repo_url": str(repo)}).json()
        first = api.post("/api/scans/", json={"project": project["id"], "ref": "v1"}).json()
    wait_until_finished(paced_site, first["id"])
    log_in(page, paced_site, paced_site.seed.alice)
    page.goto(f"{paced_site.url}/scans/{first['id']}/")

    # when
    page.get_by_role("button", name="Scan again").click()

    # then a new scan of the same project and ref runs, and offers no Scan again until it ends
    expect(page).not_to_have_url(re.compile(first["id"]))
    again = paced_site.scan(page.url.rstrip("/").rsplit("/", 1)[-1])
    assert (again["project"], again["ref"]) == (project["id"], "v1")
    expect(page.get_by_role("heading", name="again at v1")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel scan")).to_be_visible()
    expect(page.get_by_role("button", name="Scan again")).to_have_count(0)
    expect(status_badge(page)).to_have_text("Completed", timeout=30_000)
    expect(page.get_by_role("button", name="Scan again")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel scan")).to_have_count(0)


def git_tag(repo: Path, name: str) -> None:
    subprocess.run(["git", "-C", str(repo), "tag", name], check=True, capture_output=True)


def test_without_script_cancelling_asks_on_a_page_of_its_own(
    browser: Browser, paced_site: Site
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        project = paced_site.project("noscript", files(60))
        scan = paced_site.start_scan(project["id"])
        log_in(page, paced_site, paced_site.seed.alice)
        page.goto(f"{paced_site.url}/scans/{scan['id']}/")

        page.get_by_role("link", name="Cancel scan").click()
        expect(
            page.get_by_role("heading", name="Cancel the scan of noscript at main?")
        ).to_be_visible()
        page.get_by_role("link", name="Keep scanning").click()
        expect(page.get_by_role("heading", name="noscript at main")).to_be_visible()
        assert paced_site.scan(scan["id"])["status"] in ("pending", "running")

        page.get_by_role("link", name="Cancel scan").click()
        page.get_by_role("button", name="Yes, cancel scan").click()
        wait_until_finished(paced_site, scan["id"])
        assert paced_site.scan(scan["id"])["status"] == "cancelled"
        assert paced_site.scan(scan["id"])["cancelled_by"] == "alice@acme.example"
    finally:
        context.close()


# --- who is signed in, where -----------------------------------------------------------------


def test_the_login_error_names_the_email_and_the_header_says_who_and_where(
    page: Page, paced_site: Site
) -> None:
    page.goto(paced_site.url + "/login/")
    page.get_by_label("Email").fill(paced_site.seed.carol.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Please enter a correct email and password.")
    expect(alert).not_to_contain_text("username")

    log_in(page, paced_site, paced_site.seed.alice)
    header = page.get_by_role("banner")
    expect(header).to_contain_text("Signed in as alice@acme.example")
    expect(header).to_contain_text("Organization: acme")

    # a member of several organizations chooses among them under a visible label, on a phone too
    page.get_by_role("button", name="Log out").click()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, paced_site, paced_site.seed.carol)
    expect(header).to_contain_text("Signed in as carol@acme.example")
    expect(header.get_by_text("Organization", exact=True)).to_be_visible()
    expect(header.get_by_label("Organization")).to_have_value(paced_site.seed.alice.organization_id)


def test_deleting_a_project_tells_its_scan_page_and_leaves_the_dashboard(
    page: Page, paced_site: Site
) -> None:
    # given the dashboard and a scan page (same session), both following a running scan
    project = paced_site.project("doomed", files(40))
    scan = paced_site.start_scan(project["id"])
    log_in(page, paced_site, paced_site.seed.alice)
    card = page.get_by_role("listitem").filter(has_text="doomed")
    expect(card).to_be_visible()
    scan_page = page.context.new_page()
    errors: list[str] = []
    scan_page.on("pageerror", lambda error: errors.append(str(error)))
    scan_page.goto(f"{paced_site.url}/scans/{scan['id']}/")
    expect(step_of(scan_page)).to_have_text("Pacing through files")
    reconnects = requests_to(scan_page, "/progress")

    # when its project is deleted
    with paced_site.api() as api:
        api.delete(f"/api/projects/{project['id']}/").raise_for_status()

    # then the scan page says so and stops following, and the dashboard drops the card
    expect(scan_page.locator('[data-role="connection"]')).to_have_text(
        "This scan was deleted.", timeout=15_000
    )
    expect(card).to_have_count(0)
    scan_page.wait_for_timeout(3_000)
    assert reconnects == []
    assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_a_user_filters_to_high_opens_an_alert_and_dismisses_it(
    page: Page, real_site: Site, width: int
) -> None:
    # given a completed scan of an application with a high-severity problem
    project = real_site.project(f"triage-{width}", VULNERABLE_APP)
    scan = real_site.start_scan(project["id"])
    wait_until_finished(real_site, scan["id"], timeout=60)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, real_site, real_site.seed.alice)
    page.goto(f"{real_site.url}/projects/{project['id']}/")
    alerts = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="State"))

    # when they filter the project's alerts to High and above
    page.get_by_label("Severity at least").select_option("high")
    page.get_by_role("button", name="Filter").click()
    expect(alerts.get_by_role("row").filter(has_text="B602")).to_be_visible()
    severities = {text.strip() for text in alerts.locator("tbody .severity").all_text_contents()}
    assert severities and severities <= {"Critical", "High"}, severities
    assert "Low" not in alerts.inner_text()
    page_fits(page, width)

    # and open the alert and dismiss it with a reason
    alerts.get_by_role("row").filter(has_text="B602").get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("B602"))).to_be_visible()
    expect(page.locator("ol.excerpt li.flagged")).to_contain_text("shell=True")
    page_fits(page, width)
    page.get_by_label("Reason").select_option(label="False positive")
    page.get_by_label("Comment").fill("the name comes from our own configuration")
    page.get_by_role("button", name="Dismiss").click()

    # then the alert says so, with who and why in its history
    expect(page.locator("[data-role=alert-state]")).to_have_text("Dismissed")
    expect(page.locator("ol.history")).to_contain_text("Dismissed as False positive")
    expect(page.locator("ol.history")).to_contain_text(real_site.seed.alice.email)
    page_fits(page, width)

    # it left the open list (the filter kept) and is listed under dismissed
    page.get_by_role("link", name=project["name"]).click()
    page.get_by_label("Severity at least").select_option("high")
    page.get_by_role("button", name="Filter").click()
    expect(alerts.get_by_role("row").filter(has_text="aws-access-key")).to_be_visible()
    expect(alerts.get_by_role("row").filter(has_text="B602")).to_have_count(0)
    page.get_by_label("State").select_option("dismissed")
    page.get_by_role("button", name="Filter").click()
    dismissed = alerts.get_by_role("row").filter(has_text="B602")
    expect(dismissed).to_contain_text("Dismissed")
    expect(dismissed).to_contain_text("False positive")
    page_fits(page, width)

    # and the list's bulk form reopens it (back to the same filtered list)
    dismissed.get_by_role("checkbox").check()
    page.get_by_label("Action").select_option("reopen")
    page.get_by_role("button", name="Apply to checked alerts").click()
    expect(page.get_by_text("1 alert reopened.")).to_be_visible()
    expect(page.get_by_label("State")).to_have_value("dismissed")
    expect(alerts.get_by_role("row").filter(has_text="B602")).to_have_count(0)


def page_fits(page: Page, width: int) -> None:
    """The page body never scrolls sideways: tables collapse or scroll in their box."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] <= width, widths
