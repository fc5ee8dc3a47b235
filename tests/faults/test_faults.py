"""Faults in the production topology, with real processes: what users and operators see.

Every test breaks one piece of a running topology (see conftest.py) while scans run and
viewers watch through nginx, then checks the outcome a user sees: the scan's status and
message, its event log (numbered 1..N, exactly one terminal event), what every viewer
received (each event exactly once), the findings (never duplicated), and how long it took.
The figures are in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import HEARTBEAT_TIMEOUT, HOUSEKEEPING, SECONDS_PER_FILE
from tests.faults.helpers import (
    THROUGH_TLS,
    Api,
    Viewer,
    assert_gap_free,
    assert_saw_everything_once,
    is_log,
    source_repo,
)
from tests.support.topology import Topology, process_alive

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(180)]

FILES = 40  # a scan of the standard repository analyzes for about 4 s


@pytest.fixture(scope="module")
def standard_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_repo(tmp_path_factory.mktemp("repos") / "standard", FILES)


@pytest.fixture(scope="module")
def clean_findings(topology: Topology, standard_repo: Path) -> int:
    """The findings of an undisturbed scan of the standard repository."""
    assert topology.seed is not None
    api = Api(topology.url, topology.seed.token)
    try:
        scan = api.start_scan(api.project("clean", str(standard_repo)))
        done = api.wait(scan["id"], 60)
        assert done["status"] == "completed", done
        assert_gap_free(api.events(scan["id"]))
        assert done["findings_count"] == api.findings_count(scan["id"]) == FILES
        return FILES
    finally:
        api.close()


def viewers(api: Api, scan_id: str, count: int) -> list[Viewer]:
    return [Viewer(api.base_url, api.token, scan_id).start() for _ in range(count)]


def analysis_running(api: Api, scan_id: str, timeout: float = 30) -> None:
    api.wait_for_event(scan_id, lambda event: is_log(event, "paced: looked at"), timeout)


def assert_completed_like_a_clean_scan(api: Api, scan: dict[str, Any], clean: int) -> None:
    assert scan["status"] == "completed", (scan["status"], scan["error_message"])
    assert scan["findings_count"] == clean, scan
    assert api.findings_count(scan["id"]) == clean  # nothing saved twice


def test_served_as_behind_a_tls_load_balancer(whole: Topology, api: Api) -> None:
    """The deploy shape itself: nginx passes the load balancer's scheme on, so production's
    HTTPS settings hold without a redirect loop."""
    with httpx.Client(base_url=whole.url, follow_redirects=False) as plain:
        assert plain.get("/login/").status_code == 301  # plain HTTP is sent to HTTPS
        served = plain.get("/login/", headers=THROUGH_TLS)
        assert served.status_code == 200
        assert "max-age=" in served.headers["strict-transport-security"]


# -- a worker dies --------------------------------------------------------------------------------


def test_killed_worker_scan_completes_on_the_other_worker(
    whole: Topology, api: Api, standard_repo: Path, clean_findings: int
) -> None:
    scan = api.start_scan(api.project("kill-worker", str(standard_repo)))
    watching = viewers(api, scan["id"], 2)
    analysis_running(api, scan["id"])
    [workspace] = whole.workspaces()
    pid = int(workspace.name.split("-")[1])
    victim = whole.worker_running(pid)
    assert victim is not None, (pid, [w.pid for w in whole.workers])

    victim.kill()  # SIGKILL to the worker and its pool, as when its container is killed
    killed = time.monotonic()
    done = api.wait(scan["id"], 60)
    recovered = time.monotonic() - killed

    assert_completed_like_a_clean_scan(api, done, clean_findings)
    events = api.events(scan["id"])
    assert_gap_free(events)
    attempts = [event for event in events if event["kind"] == "attempt"]
    assert [event["data"]["attempt"] for event in attempts] == [2]
    assert any(is_log(event, "stopped responding") for event in events)
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    # Detected after the heartbeat timeout (+ a housekeeping round), then scanned again.
    assert recovered < HEARTBEAT_TIMEOUT + 2 * HOUSEKEEPING + 3 + FILES * SECONDS_PER_FILE * 2
    print(f"worker killed: completed {recovered:.1f} s later, attempt 2")
    # The dead attempt's analyzer (left without its parent) stops at its next report, and
    # the killed worker removes its abandoned checkout when it starts again.
    deadline = time.monotonic() + 10
    while whole.scan_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert whole.scan_processes() == {}
    assert workspace.exists()
    whole.restart(victim)
    assert not workspace.exists()


def test_worker_warm_shutdown_finishes_its_scan(
    whole: Topology, api: Api, standard_repo: Path, clean_findings: int
) -> None:
    """A rolling restart stops a worker with SIGTERM: it takes no new scan, finishes the one
    it runs (same attempt, nothing repeated), then exits; new scans go to the other worker."""
    project = api.project("warm-shutdown", str(standard_repo))
    scan = api.start_scan(project)
    watching = viewers(api, scan["id"], 1)
    analysis_running(api, scan["id"])
    [workspace] = whole.workspaces()
    stopping = whole.worker_running(int(workspace.name.split("-")[1]))
    assert stopping is not None

    stopping.send_terminate()
    meanwhile = api.start_scan(project)
    done = api.wait(scan["id"], 30)
    assert_completed_like_a_clean_scan(api, done, clean_findings)
    events = api.events(scan["id"])
    assert_gap_free(events)
    assert [event for event in events if event["kind"] == "attempt"] == []
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    assert api.wait(meanwhile["id"], 30)["status"] == "completed"
    stopping.wait_or_kill(time.monotonic() + 15)  # it exits by itself once the scan is done
    assert "Warm shutdown" in stopping.log_text()


def test_killed_scan_process_is_redelivered(
    whole: Topology, api: Api, standard_repo: Path, clean_findings: int
) -> None:
    """Only the process running the scan dies (the kernel's OOM killer picked it): the worker
    survives and Celery puts the task back in the queue at once, but that delivery finds the
    scan's heartbeat still fresh and leaves it alone (it cannot tell a dead owner from a live
    one); housekeeping starts the scan again once the heartbeat has lapsed."""
    scan = api.start_scan(api.project("kill-child", str(standard_repo)))
    watching = viewers(api, scan["id"], 1)
    analysis_running(api, scan["id"])
    [workspace] = whole.workspaces()
    pid = int(workspace.name.split("-")[1])
    assert whole.worker_running(pid) not in (None, *[w for w in whole.workers if w.pid == pid])

    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    done = api.wait(scan["id"], 60)
    recovered = time.monotonic() - killed

    assert_completed_like_a_clean_scan(api, done, clean_findings)
    events = api.events(scan["id"])
    assert_gap_free(events)
    assert [event["data"]["attempt"] for event in events if event["kind"] == "attempt"] == [2]
    assert any(is_log(event, "stopped responding") for event in events)
    assert recovered > HEARTBEAT_TIMEOUT
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    assert all(worker.alive for worker in whole.workers)
    # The worker's housekeeping removes the checkout its dead process left behind.
    deadline = time.monotonic() + 5 * HOUSEKEEPING
    while workspace.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not workspace.exists()
    print(f"scan process killed: completed {recovered:.1f} s later, attempt 2")


# -- a web node dies ------------------------------------------------------------------------------


def test_killed_web_node_streams_resume_on_the_other_node(
    whole: Topology, api: Api, standard_repo: Path
) -> None:
    scan = api.start_scan(api.project("kill-web", str(standard_repo)))
    # Several tabs: nginx spreads them over both nodes, so some are on the one that dies.
    watching = viewers(api, scan["id"], 6)
    analysis_running(api, scan["id"])
    deadline = time.monotonic() + 10
    while min(len(viewer.received) for viewer in watching) < 3:
        assert time.monotonic() < deadline, [viewer.summary() for viewer in watching]
        time.sleep(0.05)

    whole.webs[0].kill()
    killed = time.monotonic()
    done = api.wait(scan["id"], 60)

    assert done["status"] == "completed", done
    assert_gap_free(api.events(scan["id"]))
    cut = [viewer for viewer in watching if viewer.connections > 1]
    assert cut, "no stream was on the killed node"
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    # How long the cut viewers waited for their next event (resume + whatever was pending).
    waits = [
        next(event.at for event in viewer.received if event.at > killed) - killed for viewer in cut
    ]
    print(f"web node killed: {len(cut)}/6 streams resumed, next event after {max(waits):.2f} s")
    assert max(waits) < 5


def test_rolling_restart_of_web_nodes_streams_resume(
    whole: Topology, api: Api, tmp_path: Path
) -> None:
    """The upgrade procedure: each web node in turn is stopped (SIGTERM) and started again
    while a scan streams to several tabs; every tab sees every event exactly once."""
    repo = source_repo(tmp_path / "repo", 250)
    scan = api.start_scan(api.project("rolling-web", str(repo)))
    watching = viewers(api, scan["id"], 4)
    analysis_running(api, scan["id"])
    for web in whole.webs:
        began = time.monotonic()
        web.terminate(15)
        stopped = time.monotonic() - began
        whole.restart(web)
        print(
            f"{web.name}: stopped in {stopped:.1f} s, serving again {time.monotonic() - began:.1f} s"
        )
    done = api.wait(scan["id"], 60)
    assert done["status"] == "completed", done
    assert_gap_free(api.events(scan["id"]))
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    assert all(viewer.connections > 1 for viewer in watching)  # every node went down once
    print(f"rolling restart of web nodes: {[v.connections for v in watching]} connections")


# -- Redis restarts -------------------------------------------------------------------------------


def test_redis_restart_delays_events_but_loses_none(
    whole: Topology, api: Api, standard_repo: Path, clean_findings: int
) -> None:
    project = api.project("redis-restart", str(standard_repo))
    scan = api.start_scan(project)
    watching = viewers(api, scan["id"], 2)
    analysis_running(api, scan["id"])

    whole.redis.restart(down_for=2.0)  # a fresh, empty Redis (no persistence), 2 s later
    restarted = time.monotonic()
    done = api.wait(scan["id"], 60)
    assert_completed_like_a_clean_scan(api, done, clean_findings)
    assert_gap_free(api.events(scan["id"]))
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    first = time.monotonic() - restarted

    # Web nodes and workers found the new Redis by themselves: a new scan runs and streams.
    started = time.monotonic()
    second = api.start_scan(project)
    watching = viewers(api, second["id"], 2)
    done = api.wait(second["id"], 60)
    assert done["status"] == "completed", done
    assert_gap_free(api.events(second["id"]))
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    print(
        f"redis restarted: running scan completed {first:.1f} s later; "
        f"a new scan took {time.monotonic() - started:.1f} s"
    )


# -- PostgreSQL goes away ---------------------------------------------------------------------------


def test_short_database_outage_is_ridden_out(whole: Topology, api: Api, tmp_path: Path) -> None:
    """5 s without the database, early in a 16 s scan: the scan waits it out where it is —
    no new attempt, nothing lost, nothing twice — and ends well after its heartbeats have been
    missing for longer than the liveness timeout would allow, had they not resumed."""
    files = 160
    repo = source_repo(tmp_path / "repo", files)
    scan = api.start_scan(api.project("database-outage", str(repo)))
    watching = viewers(api, scan["id"], 2)
    analysis_running(api, scan["id"])
    time.sleep(2)  # the scan's heartbeats have a connection open: the cut breaks it

    whole.proxy.cut(5.0)  # every connection dropped, new ones refused, for 5 s
    cut = time.monotonic()
    done = api.wait(scan["id"], 60)
    ended = time.monotonic() - cut

    # The paced analyzer reports one finding per file (the clean scan establishes it).
    assert_completed_like_a_clean_scan(api, done, files)
    events = api.events(scan["id"])
    assert_gap_free(events)
    assert [event for event in events if event["kind"] == "attempt"] == []
    assert ended > HEARTBEAT_TIMEOUT + 2 * HOUSEKEEPING  # the reaper had every chance to act
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    # The web nodes answer again (health probes, API) without a restart.
    for web in whole.webs:
        whole.wait_web(web, timeout=10)
    print(f"database down 5 s: scan completed {ended:.1f} s after the cut, same attempt")


def test_long_database_outage_restarts_the_scan(
    whole: Topology, api: Api, standard_repo: Path, clean_findings: int
) -> None:
    """Longer than a worker waits for the database (SCANPULSE_DB_RETRY_SECONDS, 15 s): the
    attempt is abandoned, and once the database is back the scan starts again."""
    scan = api.start_scan(api.project("database-long-outage", str(standard_repo)))
    watching = viewers(api, scan["id"], 1)
    analysis_running(api, scan["id"])

    whole.proxy.cut(20.0)
    cut = time.monotonic()
    done = api.wait(scan["id"], 90)
    ended = time.monotonic() - cut

    assert_completed_like_a_clean_scan(api, done, clean_findings)
    events = api.events(scan["id"])
    assert_gap_free(events)
    assert [event["data"]["attempt"] for event in events if event["kind"] == "attempt"] == [2]
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    print(f"database down 20 s: scan completed {ended:.1f} s after the cut, on attempt 2")


def assert_unavailable(response: httpx.Response, where: str) -> None:
    """A 503 in the API's error shape that says when to retry, with the usual headers."""
    assert response.status_code == 503, (where, response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/json", where
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, where
    assert body["error"]["code"] == "unavailable", (where, body)
    assert 1 <= int(response.headers["retry-after"]) <= 60, where
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["x-frame-options"] == "DENY", where


def signed_in_session(whole: Topology) -> str:
    """A browser's session cookie, signed in through nginx as from behind the TLS balancer."""
    assert whole.seed is not None
    with httpx.Client(base_url=whole.url, headers=THROUGH_TLS, timeout=30) as browser:
        form = browser.get("/login/")
        csrf = form.cookies["csrftoken"]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = browser.post(
            "/login/",
            data={
                "username": whole.seed.email,
                "password": whole.seed.password,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Referer": "https://127.0.0.1/login/", "Cookie": f"csrftoken={csrf}"},
        )
        assert signed_in.status_code == 302, signed_in.text[:300]
        return str(signed_in.cookies["sessionid"])


def test_database_outage_answers_503_with_retry_after(
    whole: Topology, api: Api, tmp_path: Path
) -> None:
    """While PostgreSQL is unreachable, the API, both streams and the pages say so — 503 and
    when to retry, not a 500 as if the request were wrong — and answer normally once it is
    back."""
    scan = api.start_scan(api.project("outage-answers", str(source_repo(tmp_path / "repo", 5))))
    done = api.wait(scan["id"], 60)
    assert whole.seed is not None
    # A token no stream has used yet: no web node has it cached.
    fresh = whole.manage("token", "create", whole.seed.email, "--name", "outage").split()[-1]
    session = signed_in_session(whole)
    requests = {
        "scan": (f"/api/scans/{scan['id']}/", {}),
        "events": (f"/api/scans/{scan['id']}/events?after=0", {}),
        "scan stream": (f"/api/scans/{scan['id']}/progress", {"Last-Event-ID": "0"}),
        "organization stream": ("/api/stream", {}),
    }
    with httpx.Client(
        base_url=whole.url,
        headers={"Authorization": f"Bearer {fresh}", **THROUGH_TLS},
        timeout=httpx.Timeout(30, connect=5),
    ) as client:
        whole.proxy.cut()
        try:
            for _ in range(2):  # nginx takes turns: both web nodes answer
                for where, (path, headers) in requests.items():
                    assert_unavailable(client.get(path, headers=headers), where)
                page = client.get(
                    f"/scans/{scan['id']}/", headers={"Cookie": f"sessionid={session}"}
                )
                assert page.status_code == 503, page.text[:300]
                assert page.headers["content-type"].startswith("text/html")
                assert "briefly unavailable" in page.text
                assert 1 <= int(page.headers["retry-after"]) <= 60
            assert client.get("/healthz").status_code == 503
        finally:
            whole.proxy.restore()
        assert client.get(f"/api/scans/{scan['id']}/").json()["status"] == done["status"]
        finished = client.get(
            f"/api/scans/{scan['id']}/progress",
            headers={"Last-Event-ID": str(done["last_event_id"])},
        )
        assert finished.status_code == 204


# -- cancellation in every step -------------------------------------------------------------------

CANCEL_BOUND = 5.0


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A git host that accepts connections and never answers: fetching from it hangs."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for sock in [*held, server]:
        sock.close()


def cancel_and_measure(api: Api, scan_id: str) -> tuple[dict[str, Any], float]:
    requested = time.monotonic()
    api.cancel(scan_id)
    done = api.wait(scan_id, 30)
    return done, time.monotonic() - requested


def assert_cleanly_cancelled(
    whole: Topology, api: Api, done: dict[str, Any], took: float, watching: list[Viewer]
) -> None:
    assert done["status"] == "cancelled", done
    assert took < CANCEL_BOUND, took
    assert api.findings_count(done["id"]) == 0
    events = api.events(done["id"])
    assert_gap_free(events)
    assert events[-1]["data"]["message"].startswith("Scan cancelled by")
    for viewer in watching:
        viewer.join(30)
        assert_saw_everything_once(viewer, done)
    # No git, analyzer or helper process of the scan survives it.
    deadline = time.monotonic() + 2
    while whole.scan_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert whole.scan_processes() == {}
    assert whole.workspaces() == []


def test_cancel_while_queued(whole: Topology, api: Api, tmp_path: Path) -> None:
    """All four worker slots are busy: a fifth scan waits in the queue, and cancelling it is
    final at once — it never runs, not even once a slot frees up."""
    repo = source_repo(tmp_path / "repo", 30)
    project = api.project("cancel-queued", str(repo))
    busy = [api.start_scan(project) for _ in range(4)]
    for scan in busy:
        api.wait(scan["id"], 30, until=lambda s: s["status"] == "running")
    queued = api.start_scan(project)
    assert api.scan(queued["id"])["status"] == "pending"
    done, took = cancel_and_measure(api, queued["id"])
    assert done["status"] == "cancelled" and took < 1.0, (done, took)
    for scan in busy:
        assert api.wait(scan["id"], 30)["status"] == "completed"
    time.sleep(2)  # a slot is free: a revoked message that still ran would show by now
    events = api.events(queued["id"])
    assert_gap_free(events)
    assert [event["kind"] for event in events] == ["status", "cancelled"]
    assert api.scan(queued["id"])["attempt"] == 0


def test_cancel_while_fetching(whole: Topology, api: Api, tarpit: int) -> None:
    scan = api.start_scan(api.project("cancel-fetch", f"https://127.0.0.1:{tarpit}/slow.git"))
    watching = viewers(api, scan["id"], 1)
    api.wait_for_event(
        scan["id"], lambda e: e["kind"] == "step" and e["data"]["step"] == "Cloning repository", 30
    )
    deadline = time.monotonic() + 10
    while not any("git" in cmd for cmd in whole.scan_processes().values()):
        assert time.monotonic() < deadline, "git never started"
        time.sleep(0.05)
    time.sleep(1)  # well inside the fetch, which would hang for SCANPULSE_CLONE_TIMEOUT
    done, took = cancel_and_measure(api, scan["id"])
    assert_cleanly_cancelled(whole, api, done, took, watching)
    print(f"cancel while fetching: cancelled {took:.2f} s after the request")


def test_cancel_while_analyzing(whole: Topology, api: Api, tmp_path: Path) -> None:
    # 100 files (10 s of pacing) next to an analyzer that runs a helper process and waits.
    repo = source_repo(tmp_path / "repo", 100, {"spawn.txt": "\n"})
    scan = api.start_scan(api.project("cancel-analysis", str(repo)))
    watching = viewers(api, scan["id"], 1)
    spawned = api.wait_for_event(scan["id"], lambda e: is_log(e, "flood: spawned"), 30)
    helper = int(spawned["data"]["message"].rsplit(" ", 1)[1])
    analysis_running(api, scan["id"])
    running = whole.scan_processes()
    assert helper in running and any("scanpulse.analyzers.child" in c for c in running.values())
    done, took = cancel_and_measure(api, scan["id"])
    assert_cleanly_cancelled(whole, api, done, took, watching)
    assert not process_alive(helper)
    print(f"cancel while analyzing: cancelled {took:.2f} s after the request")


def test_cancel_while_saving(whole: Topology, api: Api, tmp_path: Path) -> None:
    # Tens of thousands of findings: generating the report and saving them takes seconds.
    repo = source_repo(tmp_path / "repo", 2, {"flood.txt": "60000\n"})
    scan = api.start_scan(api.project("cancel-saving", str(repo)))
    watching = viewers(api, scan["id"], 1)
    api.wait_for_event(
        scan["id"],
        lambda e: e["kind"] == "step" and e["data"]["step"] == "Generating SARIF report",
        60,
    )
    done, took = cancel_and_measure(api, scan["id"])
    assert_cleanly_cancelled(whole, api, done, took, watching)
    print(f"cancel while saving: cancelled {took:.2f} s after the request")


# -- many scans at once ---------------------------------------------------------------------------

MANY = 100
# Measured on 2 CPUs: about 75 s (each scan costs ~2 s of a busy worker slot; 4 slots).
ALL_DONE_WITHIN = 180


@pytest.mark.timeout(300)
def test_hundred_scans_at_once_every_viewer_sees_every_event_once(
    whole: Topology, api: Api, tmp_path: Path
) -> None:
    repo = source_repo(tmp_path / "repo", 2)
    project = api.project("many", str(repo))
    started = time.monotonic()
    scans: list[dict[str, Any]] = []
    watching: list[Viewer] = []
    lock = threading.Lock()

    def start_some(count: int) -> None:
        client = Api(api.base_url, api.token)
        try:
            for _ in range(count):
                scan = client.start_scan(project)
                viewer = Viewer(api.base_url, api.token, scan["id"], timeout=ALL_DONE_WITHIN)
                viewer.start()
                with lock:
                    scans.append(scan)
                    watching.append(viewer)
        finally:
            client.close()

    starters = [threading.Thread(target=start_some, args=(MANY // 10,)) for _ in range(10)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(60)
    submitted = time.monotonic() - started
    assert len(scans) == MANY

    # Every tab waits for its scan's terminal event; then the API confirms each outcome.
    for viewer in watching:
        viewer.join(max(1.0, started + ALL_DONE_WITHIN - time.monotonic()))
    elapsed = max(viewer.received[-1].at for viewer in watching) - started
    finished = {scan["id"]: scan for scan in api.scans(project)}
    assert len(finished) == MANY
    assert {scan["status"] for scan in finished.values()} == {"completed"}
    for viewer in watching:
        assert_saw_everything_once(viewer, finished[viewer.scan_id])
    assert elapsed < ALL_DONE_WITHIN
    for scan_id in list(finished)[:10]:
        assert_gap_free(api.events(scan_id))
    print(
        f"{MANY} scans: submitted in {submitted:.1f} s, all completed {elapsed:.1f} s after the "
        f"first request; {sum(len(v.received) for v in watching)} events streamed"
    )
