"""A new user's first hour, as they have it: the README's administration commands on a fresh
data directory, ``make run`` (on a taken port, then twice), a password reset and a sign-in.

Real ``scanpulse`` and ``make`` processes, each store on a fresh data directory of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from scanpulse.server.demo import DEMO_ADVISORIES, DEMO_EMAIL, DEMO_PROJECT
from tests.cli.support import SCANPULSE, clean_env, run_cli
from tests.support.analyzers import paced_settings
from tests.support.services import free_port, wait_for_port
from tests.support.topology import _psycopg_url, throwaway_database

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
# The shipped excerpt: every record is listed by the finding of the demo pin it affects.
SHIPPED_ADVISORIES = {path.stem for path in DEMO_ADVISORIES.rglob("*.yaml")}


def _fresh_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's shell: no settings of the suite, a data directory of its own, no make of ours
    around (``make test`` may have started the suite)."""
    env = clean_env(tmp_path / "home", SCANPULSE_DATA_DIR=str(tmp_path / "var"), **extra)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PORT"):
        env.pop(name, None)
    return env


def _assert_clean(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, f"{what}: {result.stderr[-3000:]}"
    assert "Traceback" not in result.stdout + result.stderr, f"{what}: {result.stderr[-3000:]}"


def make_run(port: int) -> list[str]:
    """``make run PORT=N`` of this checkout, with the virtualenv running the suite (never
    reinstalling it)."""
    return [
        "make",
        "-C",
        str(REPO_ROOT),
        "-o",
        ".venv/.installed",
        "run",
        f"PORT={port}",
        f"BIN={Path(sys.executable).parent}",
    ]


class Foreground:
    """A command left running in a terminal: its output in a file, Ctrl-C to stop it."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self, port: int) -> None:
        """Wait until the server says it listens, and does."""
        self.wait_for(listening(port))
        wait_for_port(port)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the output:\n{self.output()[-3000:]}")

    def interrupt(self) -> None:
        """Ctrl-C, as in a terminal: the whole foreground group gets SIGINT."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._out.close()


@contextlib.contextmanager
def foreground(argv: list[str], env: dict[str, str], log: Path) -> Iterator[Foreground]:
    running = Foreground(argv, env, log)
    try:
        yield running
    finally:
        running.interrupt()


def listening(port: int) -> str:
    """The line that says the server is ready: it accepts connections, and what it starts in
    the background (resumed scans, the demo's scan) has started."""
    return rf"scanpulse listening on http://127\.0\.0\.1:{port}/"


def _wait_finished(api: httpx.Client, scan_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scan = api.get(f"/api/scans/{scan_id}/").json()
        if scan["status"] in ("completed", "failed", "cancelled"):
            return dict(scan)
        time.sleep(0.3)
    raise AssertionError(f"scan {scan_id} did not finish: {scan}")


def _sign_in(url: str, email: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    browser = httpx.Client(base_url=url, timeout=30)
    form = browser.get("/login/").text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert csrf is not None
    answer = browser.post(
        "/login/",
        data={"username": email, "password": password, "csrfmiddlewaretoken": csrf.group(1)},
        headers={"Referer": f"{url}/login/"},
    )
    return browser, answer


# --- the administration commands of the README ---------------------------------------------


def test_the_readme_administration_commands_work_on_a_fresh_data_directory(
    tmp_path: Path,
) -> None:
    env = _fresh_env(tmp_path)
    org = run_cli(env, "org", "create", "acme")
    _assert_clean(org, "org create")
    user = run_cli(
        env,
        *("user", "create", "alice@example.com", "--org", "acme", "--role", "owner"),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    _assert_clean(user, "user create")
    new_password = "a second horse battery staple"
    reset = run_cli(
        env,
        *("user", "set-password", "alice@example.com", "--password-stdin"),
        stdin=new_password + "\n",
    )
    _assert_clean(reset, "user set-password")
    token = run_cli(env, "token", "create", "alice@example.com", "--name", "laptop")
    _assert_clean(token, "token create")
    synced = run_cli(env, "advisories", "sync", "--from", str(DEMO_ADVISORIES))
    _assert_clean(synced, "advisories sync")
    assert f"Loaded {len(SHIPPED_ADVISORIES)} advisory records." in synced.stdout

    port = free_port()
    argv = [SCANPULSE, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with foreground(argv, env, tmp_path / "serve.log") as serve:
        serve.ready(port)
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token.stdout.strip()}"},
            timeout=10,
        )
        assert api.get("/api/projects/").status_code == 200
        browser, signed_in = _sign_in(f"http://127.0.0.1:{port}", "alice@example.com", new_password)
        assert signed_in.status_code == 302
        browser.close()
        api.close()
    assert "Traceback" not in serve.output()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_commands_started_at_once_on_a_fresh_store_both_succeed(
    tmp_path: Path, database: str
) -> None:
    with contextlib.ExitStack() as stack:
        extra = {}
        if database == "postgresql":
            extra["DATABASE_URL"] = stack.enter_context(throwaway_database("scanpulse_firstrun"))
        env = _fresh_env(tmp_path, **extra)
        processes = [
            subprocess.Popen(
                [SCANPULSE, "org", "create", name],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("acme", "globex")
        ]
        for process in processes:
            stdout, stderr = process.communicate(timeout=180)
            _assert_clean(
                subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr),
                " ".join(process.args[1:]),
            )
        listing = run_cli(env, "org", "list")
        _assert_clean(listing, "org list")
        assert sorted(line.split("\t")[1] for line in listing.stdout.splitlines()) == [
            "acme",
            "globex",
        ]


def test_production_commands_say_in_one_line_that_migrations_come_first(tmp_path: Path) -> None:
    """Production keeps migrations a deploy step: a command run before it explains, changes
    nothing, and shows no traceback."""
    with throwaway_database("scanpulse_firstrun") as url:
        env = _fresh_env(
            tmp_path,
            DJANGO_SETTINGS_MODULE="scanpulse.config.settings.production",
            SECRET_KEY="a-production-secret-key-for-this-test-only-0123456789",
            SCANPULSE_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            DATABASE_URL=url,
        )
        for args in (
            ("org", "create", "acme"),
            ("user", "create", "alice@example.com", "--org", "acme", "--role", "owner"),
            ("token", "create", "alice@example.com", "--name", "laptop"),
            ("advisories", "sync", "--from", str(DEMO_ADVISORIES)),
        ):
            result = run_cli(env, *args)
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr
            (line,) = result.stderr.strip().splitlines()
            assert re.fullmatch(
                r"CommandError: The database schema is not up to date \(\d+ migrations not "
                r"applied\): apply them first with deploy/migrate \(or `scanpulse migrate`\)\.",
                line,
            ), line
        with psycopg.connect(_psycopg_url(url)) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,), "a production command created tables"


# --- make run ------------------------------------------------------------------------------


def test_make_run_on_a_taken_port_says_so_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    env = _fresh_env(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            make_run(port),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "listening" not in result.stdout
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert ours == [
        f"CommandError: port {port} is in use; choose another with --port N / make run PORT=N"
    ]

    # Nothing was created or started: the first start on a free port is the first start.
    port = free_port()
    with foreground(make_run(port), env, tmp_path / "run.log") as run:
        token = run.wait_for(r"Demo API token: (spt_\S+)").group(1)
        run.ready(port)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as api:
            scans = api.get("/api/scans/").json()["results"]
            assert len(scans) == 1
            assert _wait_finished(api, scans[0]["id"])["status"] == "completed"
    assert "Traceback" not in run.output()


def test_the_demo_restarts_with_one_scan_whose_pins_show_the_shipped_advisories(
    tmp_path: Path,
) -> None:
    env = _fresh_env(tmp_path)
    first_port = free_port()
    with foreground(make_run(first_port), env, tmp_path / "first.log") as first:
        first.wait_for(rf"Demo login: {re.escape(DEMO_EMAIL)} / \S+")
        token = first.wait_for(r"Demo API token: (spt_\S+)").group(1)
        first.ready(first_port)
        assert "press Start scan on demo-service's page to watch a scan run live" in first.output()
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{first_port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        (scan,) = api.get("/api/scans/").json()["results"]
        scan = _wait_finished(api, scan["id"])
        assert scan["status"] == "completed", scan
        dependencies = scan["summary"]["analyzers"]["dependencies"]
        assert any("PyPA Advisory Database (CC-BY 4.0)" in note for note in dependencies["notes"])
        findings = api.get(f"/api/scans/{scan['id']}/findings/?tool=dependencies").json()
        vulnerable = [f for f in findings["results"] if f["rule_id"] == "SP-DEP-VULNERABLE"]
        listed = {a["id"] for f in vulnerable for a in f["properties"]["advisories"]}
        assert listed == SHIPPED_ADVISORIES
        assert {(f["properties"]["package"], f["properties"]["version"]) for f in vulnerable} == {
            ("django", "3.2.0"),
            ("pyyaml", "5.1"),
            ("jinja2", "2.10"),
        }
        api.close()
    assert "Traceback" not in first.output()

    # The one-time password is gone from the screen: set a new one.
    new_password = "a new demo password for the second start"
    reset = run_cli(
        env, "user", "set-password", DEMO_EMAIL, "--password-stdin", stdin=new_password + "\n"
    )
    _assert_clean(reset, "user set-password")

    second_port = free_port()
    with foreground(make_run(second_port), env, tmp_path / "second.log") as second:
        second.ready(second_port)
        url = f"http://127.0.0.1:{second_port}"
        assert "Demo API token" not in second.output()
        assert "password shown at the first start" in second.output()
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            projects = api.get("/api/projects/").json()["results"]
            assert [project["name"] for project in projects] == [DEMO_PROJECT]
            assert [s["id"] for s in api.get("/api/scans/").json()["results"]] == [scan["id"]]

        refused, answer = _sign_in(url, DEMO_EMAIL, "not the password")
        assert answer.status_code == 200 and "sessionid" not in refused.cookies
        refused.close()
        browser, answer = _sign_in(url, DEMO_EMAIL, new_password)
        assert answer.status_code == 302, answer.text[-2000:]
        # A scan to watch live, started from the project's page.
        project_page = browser.get(f"/projects/{projects[0]['id']}/")
        assert project_page.status_code == 200 and "Start scan" in project_page.text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', project_page.text)
        assert csrf is not None
        started = browser.post(
            f"/projects/{projects[0]['id']}/scans",
            data={"csrfmiddlewaretoken": csrf.group(1), "ref": ""},
            headers={"Referer": f"{url}/projects/{projects[0]['id']}/"},
        )
        assert started.status_code == 302
        scan_page = browser.get(started.headers["location"])
        assert scan_page.status_code == 200
        browser.close()
    assert "Traceback" not in second.output()


def test_stopping_the_demo_server_lets_the_running_scan_finish_and_keeps_queued_ones(
    tmp_path: Path,
) -> None:
    """Ctrl-C while scans run: the running one finishes properly, the queued one waits for
    the next start instead of failing at interpreter exit."""
    env = _fresh_env(tmp_path, SCANPULSE_WORKER_CONCURRENCY="1", **paced_settings(1.0))
    port = free_port()
    argv = [SCANPULSE, "serve", "--demo", "--port", str(port)]
    with foreground(argv, env, tmp_path / "first.log") as first:
        token = first.wait_for(r"Demo API token: (spt_\S+)").group(1)
        first.ready(port)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as api:
            (running,) = api.get("/api/scans/").json()["results"]
            queued = api.post("/api/scans/", json={"project": running["project"]}).json()
            deadline = time.monotonic() + 60
            while api.get(f"/api/scans/{running['id']}/").json()["status"] != "running":
                assert time.monotonic() < deadline, "the demo scan did not start"
                time.sleep(0.1)
        first.interrupt()
    assert first.process.returncode == 0, first.output()[-3000:]
    assert "Waiting for 1 running scan(s) to finish" in first.output()
    assert "Traceback" not in first.output()

    port = free_port()
    argv = [SCANPULSE, "serve", "--demo", "--port", str(port)]
    with foreground(argv, env, tmp_path / "second.log") as second:
        second.wait_for(r"Resuming 1 interrupted scan\(s\)\.")
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as api:
            assert api.get(f"/api/scans/{running['id']}/").json()["status"] == "completed"
            assert _wait_finished(api, queued["id"])["status"] == "completed"
    assert "Traceback" not in second.output()
