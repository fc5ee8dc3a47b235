"""``scanpulse scan PATH`` without a server: the real pipeline in the command's own process."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.support import SCANPULSE, clean_env, git, make_repo, run_cli
from tests.support.analyzers import paced_settings
from tests.support.git_http import git_http_server
from tests.support.repos import laughs_repo

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store with its tables made, copied by each test: migrating takes longer than
    most of these scans (a fresh store is tested on its own below)."""
    workdir = tmp_path_factory.mktemp("store")
    data = workdir / "data"
    migrated = run_cli(clean_env(workdir / "home", SCANPULSE_DATA_DIR=str(data)), "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    return data


@pytest.fixture
def env(tmp_path: Path, migrated_store: Path) -> dict[str, str]:
    shutil.copytree(migrated_store, tmp_path / "data")
    return clean_env(tmp_path / "home", SCANPULSE_DATA_DIR=str(tmp_path / "data"))


def test_plain_output_line_per_event_and_exit_1_at_the_threshold(env, vulnerable_repo) -> None:
    # given: a work tree with an uncommitted change
    (vulnerable_repo / "notes.txt").write_text("not committed\n")

    # when
    result = run_cli(env, "scan", str(vulnerable_repo), "--fail-on", "high")

    # then
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert not ANSI.search(result.stdout), "no terminal codes in a CI log"
    assert "status: running" in lines
    assert "[  1%] Cloning repository" in lines
    assert any(line.startswith("log: Checked out main at ") for line in lines)
    assert any(re.fullmatch(r"log: bandit finished: 2 findings in 1 file .*", x) for x in lines)
    assert any(re.fullmatch(r"findings: \d+ so far", line) for line in lines)
    assert "completed: 3 new, 0 unchanged, 0 fixed findings." in lines
    assert re.search(r"^Scan [0-9a-f-]{36} of main: completed in [\d.]+ s$", result.stdout, re.M)
    assert re.search(r"^  high +new +bandit/B602  app\.py:7  ", result.stdout, re.M)
    assert lines[-1] == "Gate: 2 findings at or above high: failing"
    assert "uncommitted changes; they are not scanned" in result.stderr


def test_json_and_sarif_below_the_threshold_exit_0(env, vulnerable_repo, tmp_path) -> None:
    # given
    sarif = tmp_path / "out" / "web.sarif"
    sarif.parent.mkdir()

    # when
    result = run_cli(
        env, "scan", str(vulnerable_repo), "--json", "--sarif", str(sarif), "--fail-on", "critical"
    )

    # then: stdout is the JSON document and nothing else; progress went to stderr
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["scan"]["status"] == "completed"
    assert document["scan"]["ref"] == "main"
    rule_ids = {finding["rule_id"] for finding in document["findings"]}
    assert {"B602", "aws-access-key"} <= rule_ids
    assert document["counts"]["severity"]["high"] == 2
    assert document["counts"]["gate"] == {"fail_on": "critical", "new_only": False, "matching": 0}
    assert document["exit_code"] == 0
    assert "completed: 3 new" in result.stderr

    report = json.loads(sarif.read_text())
    assert report["version"] == "2.1.0"
    sarif_rules = {r["ruleId"] for run in report["runs"] for r in run["results"]}
    assert {"B602", "aws-access-key"} <= sarif_rules
    assert list(sarif.parent.iterdir()) == [sarif], "no temporary file left behind"


def test_json_lists_the_findings_most_severe_first(env, vulnerable_repo) -> None:
    result = run_cli(env, "scan", str(vulnerable_repo), "--json", "--no-progress")

    assert result.returncode == 0, result.stderr
    listed = [
        (finding["severity"], finding["path"], finding["start_line"], finding["rule_id"])
        for finding in json.loads(result.stdout)["findings"]
    ]
    assert listed == [
        ("high", "app.py", 3, "aws-access-key"),
        ("high", "app.py", 7, "B602"),
        ("low", "app.py", 1, "B404"),
    ]


def test_new_only_passes_a_rescan_of_an_unchanged_repository(env, vulnerable_repo) -> None:
    # given: a first scan, whose findings are all new
    first = run_cli(env, "scan", str(vulnerable_repo), "--fail-on", "low", "--no-progress")
    assert first.returncode == 1, first.stderr
    assert first.stdout.startswith("Scan "), "--no-progress prints the summary only"

    # when
    second = run_cli(
        env, "scan", str(vulnerable_repo), "--fail-on", "low", "--new-only", "--no-progress"
    )

    # then
    assert second.returncode == 0, second.stderr
    assert "Findings: 3 (0 new, 3 unchanged; 0 fixed)" in second.stdout
    assert second.stdout.splitlines()[-1] == "Gate: 0 new findings at or above low: passing"


SECRETS_APP = """import subprocess

AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DB_PASSWORD = "hunter2hunter2"


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""


def test_no_secret_reaches_the_output_the_report_or_the_store_in_clear(env, tmp_path) -> None:
    # given
    repo = make_repo(tmp_path / "web", {"app.py": SECRETS_APP})
    sarif = tmp_path / "web.sarif"

    # when: a scan with plain output, and a second one (from the cache) as JSON with a report
    plain = run_cli(env, "scan", str(repo))
    document = run_cli(env, "scan", str(repo), "--json", "--sarif", str(sarif))

    # then
    assert plain.returncode == 0 and document.returncode == 0, plain.stderr + document.stderr
    store = Path(env["SCANPULSE_DATA_DIR"])
    places = {
        "plain output": plain.stdout + plain.stderr,
        "JSON output": document.stdout + document.stderr,
        "SARIF file": sarif.read_text(),
        **{
            f"store file {path.name}": path.read_bytes().decode("latin-1")
            for path in store.rglob("*")
            if path.is_file()
        },
    }
    for place, text in places.items():
        for secret in ("AKIAIOSFODNN7EXAMPLE", "hunter2hunter2"):
            assert secret not in text, f"{secret} in the {place}"
    assert re.search(
        r"bandit/B105 +app\.py:4 +Possible hardcoded password: \*{8}$", plain.stdout, re.M
    )
    masked = {f["properties"].get("masked_secret") for f in json.loads(document.stdout)["findings"]}
    assert masked == {None, "********", "A********E"}


def test_a_rescan_of_copied_files_reports_the_same_findings_none_new(env, tmp_path) -> None:
    # given: three identical files, each with a shell injection and a key
    copy = 'import subprocess\n\nAWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\nsubprocess.call(x, shell=True)\n'
    repo = make_repo(tmp_path / "copies", {"a.py": copy, "b.py": copy, "lib/c.py": copy})

    # when: the same tree is scanned twice
    first = run_cli(env, "scan", str(repo), "--json")
    second = run_cli(env, "scan", str(repo), "--json")

    # then: the second scan reports exactly the first one's findings, each unchanged
    assert first.returncode == second.returncode == 0, second.stderr
    before, after = json.loads(first.stdout), json.loads(second.stdout)

    def reported(document: dict) -> list[tuple]:
        return sorted(
            (f["tool"], f["rule_id"], f["path"], f["start_line"], f["message"])
            for f in document["findings"]
        )

    assert reported(after) == reported(before)
    assert len(reported(before)) == 9  # B404, B602 and the key, in each of the three files
    assert ("secrets", "aws-access-key", "lib/c.py", 3, "AWS Access Key on line 3") in (
        reported(after)
    )
    assert after["counts"]["status"] == {"new": 0, "unchanged": 9, "fixed": 0}
    assert "completed: 0 new, 9 unchanged, 0 fixed findings." in second.stderr


PARTLY = (
    "  partly analyzed secrets deploy/laughs.yaml: its YAML aliases expand to more than "
    "100,000 values; scanned line by line instead of as YAML"
)


def test_an_incomplete_scan_fails_the_gate_until_allowed(env, tmp_path) -> None:
    # given: a billion-laughs YAML file next to a private key and a JWT
    repo = laughs_repo(tmp_path / "laughs").path

    # when
    first = run_cli(env, "scan", str(repo), "--fail-on", "high")

    # then: the secrets are reported, the bomb is named as partly analyzed, the gate fails
    assert first.returncode == 1, first.stderr
    lines = first.stdout.splitlines()
    assert re.search(r"^  high +new +secrets/private-key  keys/id_rsa:1  ", first.stdout, re.M)
    assert re.search(r"^  high +new +secrets/json-web-token  web/auth.js:1  ", first.stdout, re.M)
    assert (
        "completed: 2 new, 0 unchanged, 0 fixed findings. Incomplete: 1 file partly analyzed."
        in lines
    )
    assert lines[-3:] == [
        "Incomplete: 1 file partly analyzed",
        PARTLY,
        "Gate: 2 findings at or above high, scan incomplete: failing",
    ]

    # when: scanned again, counting only new findings
    second = run_cli(env, "scan", str(repo), "--fail-on", "high", "--new-only")

    # then: nothing new, but the scan is still incomplete, and the gate says so (exit 5)
    assert second.returncode == 5, second.stderr
    lines = second.stdout.splitlines()
    assert "log: secrets: 3 of 4 files unchanged since an earlier scan: results reused" in lines
    assert lines[-1] == (
        "Gate: 0 new findings at or above high, scan incomplete: failing "
        "(--allow-incomplete passes an incomplete scan)"
    )

    # when: the user accepts an incomplete scan
    third = run_cli(
        env, "scan", str(repo), "--fail-on", "high", "--new-only", "--allow-incomplete", "--json"
    )

    # then
    assert third.returncode == 0, third.stderr
    document = json.loads(third.stdout)
    assert document["gate"] == {
        "allow_incomplete": True,
        "passed": True,
        "matching": 0,
        "complete": False,
        "reasons": [],
    }
    assert document["scan"]["complete"] is False
    assert [gap["path"] for gap in document["scan"]["gaps"]] == ["deploy/laughs.yaml"]
    assert document["exit_code"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["scan", ".", "--bogus"],
        ["scan", ".", "--fail-on", "severe"],
        ["scan"],
        ["scan", ".", "--ref", "bad..ref"],
        ["watch", "3f0c1b9e-0000-4000-8000-000000000000"],
        ["scan", ".", "--server", "http://127.0.0.1:9"],
        ["scan", ".", "--server", "ftp://example.com", "--token", "x"],
    ],
)
def test_usage_and_configuration_errors_exit_2(env, args) -> None:
    result = run_cli(env, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.strip(), "says what is wrong"


def test_help_documents_the_exit_codes(env) -> None:
    result = run_cli(env, "scan", "--help")
    assert result.returncode == 0
    for line in (
        "0    the scan completed",
        "1    the scan completed with findings",
        "5    with --fail-on: the scan completed but is incomplete",
        "130  ",
    ):
        assert line in result.stdout


def test_a_path_that_does_not_exist_fails_the_scan_with_exit_3(tmp_path) -> None:
    # given: no SCANPULSE_DATA_DIR, so the per-user store is used
    home = tmp_path / "home"
    env = clean_env(home)

    # when
    result = run_cli(env, "scan", str(tmp_path / "missing"), "--no-progress")

    # then
    assert result.returncode == 3, result.stderr
    assert "failed" in result.stdout
    assert "The repository does not exist or is not reachable." in result.stdout
    assert (home / ".local" / "share" / "scanpulse" / "scanpulse.sqlite3").exists()


def test_a_directory_that_is_not_a_git_repository_says_so(env, tmp_path) -> None:
    # given: a directory of code that git does not manage
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "app.py").write_text("import subprocess\n")

    # when
    result = run_cli(env, "scan", str(plain), "--no-progress")

    # then: the scan fails saying what is wrong, not that the path does not exist
    assert result.returncode == 3, result.stderr
    assert f"{plain} is not a git repository." in result.stdout
    assert "does not exist" not in result.stdout


def test_a_ref_that_does_not_exist_fails_the_scan_with_exit_3(env, vulnerable_repo) -> None:
    result = run_cli(env, "scan", str(vulnerable_repo), "--ref", "release-9", "--json")

    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    assert document["scan"]["status"] == "failed"
    assert (
        document["scan"]["error_message"] == "The ref 'release-9' does not exist in the repository."
    )
    assert "failed: The ref 'release-9' does not exist in the repository." in result.stderr


def test_a_git_host_on_the_users_own_network_is_scanned(env, vulnerable_repo) -> None:
    """No server, no one else's request: a host on loopback is the user's own to fetch from.
    (Plain HTTP keeps certificates out of the test; the pinning is the same as for HTTPS.)"""
    bare = vulnerable_repo.parent / "served" / "web.git"
    git(vulnerable_repo.parent, "clone", "--quiet", "--bare", str(vulnerable_repo), str(bare))
    with git_http_server(bare.parent) as host:
        result = run_cli(
            {**env, "SCANPULSE_REPO_SCHEMES": "https,ssh,http"},
            "scan",
            f"http://127.0.0.1:{host.port}/web.git",
            "--ref",
            "main",
            "--json",
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scan"]["status"] == "completed"
    assert host.requests


def test_the_current_branch_of_a_subdirectory_is_scanned(env, vulnerable_repo) -> None:
    # given: a checkout of another branch, run from a subdirectory
    git(vulnerable_repo, "checkout", "--quiet", "-b", "feature")
    (vulnerable_repo / "pkg").mkdir()
    (vulnerable_repo / "pkg" / "safe.py").write_text("VALUE = 1\n")
    git(vulnerable_repo, "add", "-A")
    git(vulnerable_repo, "commit", "--quiet", "-m", "feature")

    # when
    result = run_cli(env, "scan", str(vulnerable_repo / "pkg"), "--json", "--no-progress")

    # then
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["scan"]["ref"] == "feature"
    assert document["scan"]["summary"]["files"] == 3
    assert result.stderr == ""


def test_interrupt_cancels_the_scan_running_in_the_command(env, tmp_path) -> None:
    # given: a slow scan, its events followed line by line
    repo = make_repo(tmp_path / "slow", {f"m{n:02d}.py": f"VALUE = {n}\n" for n in range(20)})
    env = {**env, **paced_settings(0.3)}
    process = subprocess.Popen(
        [SCANPULSE, "scan", str(repo)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("log: paced: looked at"):
            break

    # when
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate(timeout=60)

    # then
    assert process.returncode == 3, errors
    assert "Interrupted: cancelling scan" in errors
    assert "cancelled: Scan cancelled by cli@localhost." in rest
    assert "looked at m19.py" not in rest


def test_a_terminal_shows_a_live_progress_bar(env, vulnerable_repo) -> None:
    # given: stdout is a terminal
    pid, terminal = pty.fork()
    if pid == 0:  # the child: become the command
        os.environ.clear()
        os.environ.update(env, COLUMNS="100", LINES="30", TERM="xterm-256color")
        os.execv(SCANPULSE, [SCANPULSE, "scan", str(vulnerable_repo)])  # noqa: S606 - no shell wanted

    # when
    output = _read_all(terminal, timeout=120)
    _, status = os.waitpid(pid, 0)

    # then
    assert os.waitstatus_to_exitcode(status) == 0
    screen = ANSI.sub("", output)
    assert "━" in screen, "a progress bar"
    assert re.search(r"Completed .*100% 0:00:\d\d 3 findings", screen)
    assert "log: bandit finished" in screen
    assert "Findings: 3 (3 new, 0 unchanged; 0 fixed)" in screen


def _read_all(fd: int, timeout: float) -> str:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def test_sbom_files_of_a_local_scan(env, tmp_path) -> None:
    # given: a repository pinning two packages
    repo = make_repo(tmp_path / "deps", {"requirements.txt": "django==3.2.0\njinja2==2.10\n"})
    cyclonedx = tmp_path / "deps.cdx.json"
    spdx = tmp_path / "deps.spdx.json"

    # when
    first = run_cli(env, "scan", str(repo), "--sbom", str(cyclonedx))
    second = run_cli(env, "scan", str(repo), "--sbom", str(spdx))

    # then: the format follows the file name; both list the pinned packages
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    document = json.loads(cyclonedx.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    assert {c["purl"] for c in document["components"]} == {
        "pkg:pypi/django@3.2.0",
        "pkg:pypi/jinja2@2.10",
    }
    packages = json.loads(spdx.read_text())["packages"]
    assert {p["name"] for p in packages} >= {"django", "jinja2"}


def test_sbom_format_without_a_file_is_a_usage_error(env, vulnerable_repo) -> None:
    result = run_cli(env, "scan", str(vulnerable_repo), "--sbom-format", "spdx")
    assert result.returncode != 0
    assert "--sbom-format needs --sbom FILE" in result.stderr


def test_an_advisory_sync_command_matches_the_stored_inventory_before_it_exits(
    env, tmp_path
) -> None:
    # given: a local scan of a repository whose jinja2 pin no loaded advisory names yet
    from tests.support.data import fixture_data

    osv = tmp_path / "osv"
    shutil.copytree(fixture_data("osv-pypa", "vulns", "django"), osv / "django")
    assert run_cli(env, "advisories", "sync", "--from", str(osv)).returncode == 0
    repo = make_repo(tmp_path / "deps", {"requirements.txt": "jinja2==2.10\n"})
    assert run_cli(env, "scan", str(repo)).returncode == 0

    # when: jinja2's advisories are loaded by a command of its own
    shutil.copytree(fixture_data("osv-pypa", "vulns", "jinja2"), osv / "jinja2")
    loaded = run_cli(env, "advisories", "sync", "--from", str(osv))

    # then: once the command has exited, the store holds the alert, and no scan ran
    assert loaded.returncode == 0, loaded.stderr
    store = Path(env["SCANPULSE_DATA_DIR"]) / "scanpulse.sqlite3"
    with sqlite3.connect(store) as database:
        alerts = database.execute(
            "SELECT message FROM alerts_alert WHERE rule_id = 'SP-DEP-VULNERABLE'"
        ).fetchall()
        scans = database.execute("SELECT COUNT(*) FROM scans_scan").fetchone()[0]
    assert len(alerts) == 1 and "jinja2 2.10" in alerts[0][0]
    assert scans == 1
