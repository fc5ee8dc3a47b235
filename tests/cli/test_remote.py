"""``scanpulse scan --server`` and ``scanpulse watch`` against a real ``scanpulse serve``.

The server closes every stream after about a second (``SCANPULSE_SSE_MAX_LIFETIME_SECONDS``)
and a paced analyzer makes scans last a few seconds, so every test here also goes through
resumed streams.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli.support import (
    SCANPULSE,
    VULNERABLE_APP,
    SeededServer,
    clean_env,
    make_repo,
    run_cli,
    seed_store,
    terminal_screen,
)
from tests.support.repos import laughs_repo
from tests.support.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return seed_store(tmp_path_factory.mktemp("seed"))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, seed: tuple[Path, str]
) -> Iterator[SeededServer]:
    started = SeededServer(
        tmp_path_factory.mktemp("server"), seed, SCANPULSE_SSE_MAX_LIFETIME_SECONDS="1"
    )
    yield started
    started.stop()


@pytest.fixture
def user_env(server: SeededServer, tmp_path: Path) -> dict[str, str]:
    return server.client_env(tmp_path / "home")


def paced_repo(path: Path, count: int) -> tuple[Path, list[str]]:
    """A repository of ``count`` files; the paced analyzer logs "looked at <file>" for each,
    in this order, about 0.3 s apart."""
    files = {f"m{index:02d}.py": f"VALUE = {index}\n" for index in range(count)}
    return make_repo(path, files), sorted(files)


def looked_at(output: str) -> list[str]:
    return re.findall(r"^log: paced: looked at (\S+)$", output, re.M)


def events(server: SeededServer, scan_id: str) -> list[dict[str, Any]]:
    page = server.api.get(f"/api/scans/{scan_id}/events", params={"limit": 500}).json()
    return list(page["events"])


def scan_id_in(text: str) -> str:
    match = re.search(r"scanpulse watch ([0-9a-f-]{36})", text)
    assert match, text
    return match.group(1)


def wait_for_status(server: SeededServer, scan_id: str, wanted: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        scan: dict[str, Any] = server.api.get(f"/api/scans/{scan_id}/").json()
        if scan["status"] in wanted:
            return scan
        time.sleep(0.1)
    raise AssertionError(f"scan {scan_id} never became {wanted}")


def test_scan_on_a_server_gates_and_downloads_the_sarif(server, user_env, tmp_path) -> None:
    # given
    repo = make_repo(tmp_path / "web", {"app.py": VULNERABLE_APP})
    sarif = tmp_path / "web.sarif"

    # when
    result = run_cli(user_env, "scan", str(repo), "--fail-on", "high", "--sarif", str(sarif))

    # then
    assert result.returncode == 1, result.stderr
    assert "status: running" in result.stdout.splitlines()
    assert looked_at(result.stdout) == ["app.py"]
    assert re.search(r"^  high +new +bandit/B602  app\.py:7  ", result.stdout, re.M)
    assert result.stdout.splitlines()[-1] == "Gate: 2 findings at or above high: failing"
    report = json.loads(sarif.read_text())
    assert report["version"] == "2.1.0"
    assert {"B602", "aws-access-key", "PACED001"} <= {
        r["ruleId"] for run in report["runs"] for r in run["results"]
    }
    projects = server.api.get("/api/projects/").json()["results"]
    assert [p["name"] for p in projects if p["repo_url"] == str(repo)] == ["web"]

    # when: the same repository again, with a threshold above its findings
    again = run_cli(user_env, "scan", str(repo), "--fail-on", "critical", "--json")

    # then: the project is reused and its history applies
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["counts"]["status"] == {"new": 0, "unchanged": 4, "fixed": 0}
    assert document["scan"]["project"] == next(p["id"] for p in projects if p["name"] == "web")
    assert len(server.api.get("/api/projects/").json()["results"]) == len(projects)


def test_scan_on_a_server_downloads_the_sbom(server, user_env, tmp_path) -> None:
    # given: this server runs no dependencies analyzer, so the inventory is empty; what is
    # downloaded is the server's own document of the scan, in the format asked for
    repo = make_repo(tmp_path / "deps", {"requirements.txt": "django==3.2.0\n"})
    spdx = tmp_path / "deps.json"

    # when
    result = run_cli(
        user_env, "scan", str(repo), "--json", "--sbom", str(spdx), "--sbom-format", "spdx"
    )

    # then
    assert result.returncode == 0, result.stderr
    scan_id = json.loads(result.stdout)["scan"]["id"]
    document = json.loads(spdx.read_text())
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["documentNamespace"].endswith(f"/{scan_id}")
    served = server.api.get(f"/api/scans/{scan_id}/sbom", params={"format": "spdx"})
    assert json.loads(served.content) == document


def test_an_incomplete_scan_on_a_server_fails_the_gate_until_allowed(
    server, user_env, tmp_path
) -> None:
    # given: a repository with a billion-laughs YAML file, scanned once already
    repo = laughs_repo(tmp_path / "laughs").path
    first = run_cli(user_env, "scan", str(repo), "--fail-on", "high")
    assert first.returncode == 1, first.stderr
    assert "Incomplete: 1 file partly analyzed" in first.stdout.splitlines()

    # when: scanned again, counting only new findings
    second = run_cli(user_env, "scan", str(repo), "--fail-on", "high", "--new-only")

    # then: the incomplete scan alone fails the gate
    assert second.returncode == 5, second.stderr
    assert second.stdout.splitlines()[-1] == (
        "Gate: 0 new findings at or above high, scan incomplete: failing "
        "(--allow-incomplete passes an incomplete scan)"
    )

    # when: the same scan, watched with the opt-out
    allowed = run_cli(
        user_env,
        "watch",
        scan_id_in(second.stderr),
        "--fail-on",
        "high",
        "--new-only",
        "--allow-incomplete",
        "--no-progress",
    )

    # then
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[-1] == (
        "Gate: 0 new findings at or above high, scan incomplete (allowed): passing"
    )
    # ... and the server gives a CI system the same verdict
    verdict = server.api.get(
        f"/api/scans/{scan_id_in(second.stderr)}/gate",
        params={"fail_on": "high", "new_only": "true"},
    ).json()
    assert (verdict["passed"], verdict["reasons"]) == (
        False,
        ["the scan is incomplete: 1 file partly analyzed"],
    )


def test_a_scan_on_a_server_exits_with_the_projects_quality_gate(
    server, user_env, tmp_path
) -> None:
    # given: a project whose quality gate refuses secrets
    repo = make_repo(tmp_path / "gated", {"app.py": VULNERABLE_APP})
    project = server.api.post("/api/projects/", json={"name": "gated", "repo_url": str(repo)})
    changed = server.api.patch(
        f"/api/projects/{project.json()['id']}/", json={"gate_policy": {"no_secrets": True}}
    )
    assert changed.status_code == 200, changed.text

    # when: scanned without a gate of the command line's own
    result = run_cli(user_env, "scan", str(repo), "--no-progress")

    # then: the project's gate decides, and says why
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "Gate (the project's quality gate): failing: 1 secret found"
    )
    assert "AKIAIOSFODNN7EXAMPLE" not in result.stdout

    # when: --fail-on is given, it overrides the project's gate
    overridden = run_cli(user_env, "scan", str(repo), "--fail-on", "critical", "--no-progress")

    # then
    assert overridden.returncode == 0, overridden.stderr
    assert overridden.stdout.splitlines()[-1] == "Gate: 0 findings at or above critical: passing"

    # when: the first scan is watched again as JSON, the verdict is the server's
    scans = server.api.get("/api/scans/", params={"project": project.json()["id"]}).json()
    first = scans["results"][-1]["id"]
    document = json.loads(run_cli(user_env, "watch", first, "--json").stdout)
    assert document["exit_code"] == 1
    assert document["gate"]["source"] == "project"
    assert (document["gate"]["passed"], document["gate"]["reasons"]) == (
        False,
        ["1 secret found"],
    )


def test_a_bad_token_exits_4(server, tmp_path, vulnerable_repo) -> None:
    env = clean_env(tmp_path / "home", SCANPULSE_SERVER=server.url, SCANPULSE_TOKEN="spt_nope")
    result = run_cli(env, "scan", str(vulnerable_repo))
    assert result.returncode == 4
    assert result.stdout == ""
    assert "401" in result.stderr and "SCANPULSE_TOKEN" in result.stderr


def test_a_server_that_is_not_listening_exits_4(tmp_path, vulnerable_repo) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        clean_env(tmp_path / "home"), "scan", str(vulnerable_repo), "--server", url, "--token", "t"
    )
    assert result.returncode == 4
    assert f"Cannot reach the server at {url}" in result.stderr


def test_flags_win_over_the_environment(server, tmp_path, vulnerable_repo) -> None:
    env = clean_env(tmp_path / "home", SCANPULSE_SERVER="http://127.0.0.1:9", SCANPULSE_TOKEN="x")
    result = run_cli(
        env,
        "scan",
        str(vulnerable_repo),
        "--server",
        server.url,
        "--token",
        server.token,
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Scan ")


def test_watch_attaches_to_a_running_scan(server, user_env, tmp_path) -> None:
    # given: a scan started by someone else, already running
    repo, files = paced_repo(tmp_path / "slow", 8)
    project = server.api.post(
        "/api/projects/", json={"name": "slow-watch", "repo_url": str(repo)}
    ).json()
    scan = server.api.post("/api/scans/", json={"project": project["id"]}).json()
    wait_for_status(server, scan["id"], {"running"})

    # when
    result = run_cli(user_env, "watch", scan["id"])

    # then: everything from the first event on, once each and in order
    assert result.returncode == 0, result.stderr
    assert looked_at(result.stdout) == files
    lines = result.stdout.splitlines()
    assert lines[0] == "status: pending (ref main, requested by owner@acme.example)"
    assert lines.count("status: running") == 1
    assert [line for line in lines if line.startswith("completed:")] == [
        "completed: 8 new, 0 unchanged, 0 fixed findings."
    ]


def test_every_event_exactly_once_across_dropped_streams(server, user_env, tmp_path) -> None:
    # given: a scan lasting several of the server's one-second stream lifetimes
    repo, files = paced_repo(tmp_path / "long", 10)

    # when
    result = run_cli(user_env, "scan", str(repo))

    # then: what the user saw is the server's log, in order, without a gap or a repeat
    assert result.returncode == 0, result.stderr
    scan_id = scan_id_in(result.stderr)
    assert looked_at(result.stdout) == files
    logged = [e["data"]["message"] for e in events(server, scan_id) if e["kind"] == "log"]
    shown = [
        line.removeprefix("log: ")
        for line in result.stdout.splitlines()
        if line.startswith("log: ")
    ]
    assert shown == logged
    # ... and it arrived over streams that were resumed, not by polling
    streams = re.findall(
        rf'"GET /api/scans/{scan_id}/progress HTTP/1.1" (\d+)', server.log.read_text()
    )
    assert streams.count("200") >= 3, streams
    assert f"/api/scans/{scan_id}/events?after=" not in server.log.read_text()


def test_interrupt_with_cancel_on_interrupt_cancels_the_scan(server, user_env, tmp_path) -> None:
    # given: a long scan followed by the client
    repo, _ = paced_repo(tmp_path / "cancel", 30)
    process = subprocess.Popen(
        [SCANPULSE, "scan", str(repo), "--cancel-on-interrupt"],
        env=user_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("log: paced: looked at"):
            break

    # when
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)

    # then
    assert process.returncode == 3, errors
    scan_id = scan_id_in(errors)
    assert f"Cancelling scan {scan_id}" in errors
    assert "cancelled: Scan cancelled by owner@acme.example." in rest
    assert server.api.get(f"/api/scans/{scan_id}/").json()["status"] == "cancelled"


def test_interrupt_leaves_the_scan_running_and_says_how_to_come_back(
    server, user_env, tmp_path
) -> None:
    # given
    repo, _ = paced_repo(tmp_path / "leave", 30)
    process = subprocess.Popen(
        [SCANPULSE, "scan", str(repo)],
        env=user_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first = process.stderr.readline()  # "Scan <id> started on …" — the scan exists
    scan_id = scan_id_in(first)
    wait_for_status(server, scan_id, {"running"})

    # when
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=30)

    # then
    assert process.returncode == 130
    assert "Gate" not in output and "Findings" not in output, "no summary of a scan not over"
    assert f"Re-attach with: scanpulse watch {scan_id}" in errors
    assert server.api.get(f"/api/scans/{scan_id}/").json()["status"] == "running"
    server.api.post(f"/api/scans/{scan_id}/cancel")
    wait_for_status(server, scan_id, {"cancelled"})


def test_a_server_without_local_repositories_gets_a_clear_error(
    seed, tmp_path, vulnerable_repo
) -> None:
    # given
    strict = SeededServer(tmp_path / "strict", seed, SCANPULSE_ALLOW_LOCAL_REPOS="false")
    try:
        # when
        result = run_cli(strict.client_env(tmp_path / "home"), "scan", str(vulnerable_repo))
    finally:
        strict.stop()

    # then
    assert result.returncode == 2
    assert "Local repositories are disabled on this server." in result.stderr
    assert "scan locally without --server" in result.stderr


def test_refused_streams_fall_back_to_polling(seed, tmp_path) -> None:
    # given: a server that allows no stream at all
    busy = SeededServer(tmp_path / "busy", seed, SCANPULSE_STREAMS_PER_ORG="0")
    repo, files = paced_repo(tmp_path / "polled", 4)
    try:
        # when
        result = run_cli(busy.client_env(tmp_path / "home"), "scan", str(repo))
        log = busy.log.read_text()
    finally:
        busy.stop()

    # then
    assert result.returncode == 0, result.stderr
    assert "Streaming unavailable (HTTP 429); polling" in result.stderr
    assert looked_at(result.stdout) == files
    assert result.stdout.count("completed: ") == 1
    assert re.search(r'"GET /api/scans/[0-9a-f-]+/events\?after=\d+&limit=500 HTTP/1.1" 200', log)


# --- a scan that waits, and how long it has run ----------------------------------------------


@pytest.fixture(scope="module")
def one_worker(
    tmp_path_factory: pytest.TempPathFactory, seed: tuple[Path, str]
) -> Iterator[SeededServer]:
    """A server that runs one scan at a time: a second one waits for the first."""
    started = SeededServer(
        tmp_path_factory.mktemp("one-worker"), seed, SCANPULSE_WORKER_CONCURRENCY="1"
    )
    yield started
    started.stop()


def occupy(server: SeededServer, tmp_path: Path, name: str) -> dict[str, Any]:
    """A long scan that takes the server's only worker (about 18 s), once it runs."""
    repo, _ = paced_repo(tmp_path / name, 60)
    project = server.api.post("/api/projects/", json={"name": name, "repo_url": str(repo)}).json()
    scan = server.api.post("/api/scans/", json={"project": project["id"]}).json()
    return wait_for_status(server, scan["id"], {"running"})


def age(timestamp: str) -> float:
    return time.time() - datetime.fromisoformat(timestamp).timestamp()


def elapsed_shown(screen: str, description: str) -> list[int]:
    """The elapsed times the progress bar showed next to ``description``, in seconds."""
    shown = re.findall(
        re.escape(description) + r"[^\r\n]*? (\d+):(\d\d):(\d\d) +\d+ findings", screen
    )
    return [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in shown]


def test_a_scan_waiting_for_a_worker_says_so(one_worker, tmp_path) -> None:
    # given: the only worker is busy
    busy = occupy(one_worker, tmp_path, "busy-plain")
    repo, files = paced_repo(tmp_path / "queued", 2)

    # when: a scan is started (plain output, as in CI)
    process = subprocess.Popen(
        [SCANPULSE, "scan", str(repo)],
        env=one_worker.client_env(tmp_path / "home"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    shown = []
    for line in process.stdout:
        shown.append(line.rstrip("\n"))
        if len(shown) == 2:
            break

    # then: while it waits, it says why
    assert shown == [
        "status: pending (ref main, requested by owner@acme.example)",
        "[  0%] Queued: waiting for a free worker",
    ]
    assert one_worker.api.get(f"/api/scans/{busy['id']}/").json()["status"] == "running"

    # and once the worker is free, it runs to its end
    one_worker.api.post(f"/api/scans/{busy['id']}/cancel")
    rest, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert "status: running" in rest.splitlines()
    assert looked_at(rest) == files


def test_watch_shows_how_long_the_scan_has_run_and_why_it_waits(one_worker, tmp_path) -> None:
    # given: a scan that has been running for a while, and one waiting behind it
    busy = occupy(one_worker, tmp_path, "busy-watched")
    repo, _ = paced_repo(tmp_path / "behind", 2)
    project = one_worker.api.post(
        "/api/projects/", json={"name": "behind", "repo_url": str(repo)}
    ).json()
    waiting = one_worker.api.post("/api/scans/", json={"project": project["id"]}).json()
    while age(busy["started_at"]) < 6:
        time.sleep(0.2)
    env = one_worker.client_env(tmp_path / "home")

    try:
        # when: someone attaches to each on a terminal
        running_for = age(busy["started_at"])
        running_screen = terminal_screen(env, "watch", busy["id"], seconds=2.5)
        waiting_for = age(waiting["created_at"])
        waiting_screen = terminal_screen(env, "watch", waiting["id"], seconds=2.5)

        # then: the time shown counts from the scan's start, not from attaching
        running = elapsed_shown(running_screen, "Pacing through files")
        assert running, running_screen[-2000:]
        assert min(running) >= int(running_for) - 1, (running, running_for)
        # and a waiting scan says why it waits, and since when
        queued = elapsed_shown(waiting_screen, "Queued: waiting for a free worker")
        assert queued, waiting_screen[-2000:]
        assert min(queued) >= int(waiting_for) - 1, (queued, waiting_for)
        assert one_worker.api.get(f"/api/scans/{waiting['id']}/").json()["status"] == "pending"
    finally:
        for scan in (waiting, busy):
            one_worker.api.post(f"/api/scans/{scan['id']}/cancel")


def test_upload_sends_another_tools_sarif_report_and_gates_it(server, user_env, tmp_path) -> None:
    # given: a project, and ESLint's report of it (absolute paths under /home/dev/webapp)
    created = server.api.post(
        "/api/projects/", json={"name": "webapp", "repo_url": "https://git.example/webapp.git"}
    )
    assert created.status_code == 201, created.text
    report = Path(__file__).resolve().parents[1] / "fixtures" / "sarif-reports" / "eslint.sarif"

    # when
    result = run_cli(
        user_env,
        "upload",
        str(report),
        "--project",
        "webapp",
        "--root",
        "/home/dev/webapp",
        "--fail-on",
        "high",
    )

    # then: a scan of ESLint's findings, followed live, failing the gate on its two errors
    assert result.returncode == 1, result.stderr
    assert "status: running" in result.stdout.splitlines()
    assert re.search(r"^  high +new +ESLint/no-eval  src/render\.js:6  ", result.stdout, re.M)
    assert result.stdout.splitlines()[-1] == "Gate: 2 findings at or above high: failing"

    # when: the same report again, as JSON
    again = run_cli(
        user_env,
        "upload",
        str(report),
        "--project",
        created.json()["id"],
        "--root",
        "/home/dev/webapp",
        "--json",
    )

    # then: the same findings, none new
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["counts"]["status"] == {"new": 0, "unchanged": 3, "fixed": 0}
    assert document["scan"]["ref"] == "sarif/eslint"

    # when: without the root, the absolute paths are refused with the server's reasons
    refused = run_cli(user_env, "upload", str(report), "--project", "webapp")
    assert refused.returncode == 2
    assert "outside the repository" in refused.stderr
    assert "file:///home/dev/webapp/src/render.js" in refused.stderr
    # ... and so is a report that is not SARIF, or a project that is not there
    bad = tmp_path / "bad.sarif"
    bad.write_text('{"version": "2.1.0", "runs": [{"tool": {}}]}')
    invalid = run_cli(user_env, "upload", str(bad), "--project", "webapp")
    assert invalid.returncode == 2 and "SARIF 2.1.0 schema" in invalid.stderr
    missing = run_cli(user_env, "upload", str(report), "--project", "nowhere")
    assert missing.returncode == 2 and "no project 'nowhere'" in missing.stderr
