"""Real scans through the API: real git repositories, real analyzers, real advisory data."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import jsonschema
import pytest

from scanpulse.scans.models import Finding, Scan, ScanReport
from tests.scans.conftest import (
    CLEAR_SECRETS,
    everything_shown_and_stored,
    start_scan,
    wait_for_scan,
)
from tests.support.analyzers import PLUGINS as PLUGINS_DIR
from tests.support.data import fixture_data
from tests.support.repos import VULNERABLE_APP, GitRepo, vulnerable_repo

pytestmark = pytest.mark.django_db(transaction=True)

PLUGINS = str(PLUGINS_DIR)

DJANGO_320_ADVISORIES = {
    "PYSEC-2021-7", "PYSEC-2021-8", "PYSEC-2021-98", "PYSEC-2021-99", "PYSEC-2021-109",
    "PYSEC-2021-439", "PYSEC-2022-1", "PYSEC-2022-2", "PYSEC-2022-3", "PYSEC-2022-19",
    "PYSEC-2022-20", "PYSEC-2022-190", "PYSEC-2022-191", "PYSEC-2022-213", "PYSEC-2022-245",
    "PYSEC-2022-304", "PYSEC-2023-12", "PYSEC-2023-13", "PYSEC-2023-61", "PYSEC-2023-100",
    "PYSEC-2023-222", "PYSEC-2023-225", "PYSEC-2023-226", "PYSEC-2024-28", "PYSEC-2024-47",
}  # fmt: skip


def code_findings(scan: Scan) -> set[tuple[str, str, str, int | None, str]]:
    return {
        (f.tool, f.rule_id, f.path, f.start_line, f.status)
        for f in scan.findings.exclude(tool="dependencies")
    }


def test_a_scan_finds_code_issues_secrets_and_vulnerable_pins(tenant, advisories, tmp_path) -> None:
    # given
    repo = vulnerable_repo(tmp_path / "repo")
    # when
    created = start_scan(tenant, repo.path)
    scan = wait_for_scan(created["id"])
    # then
    assert scan.status == "completed", scan.error_message
    assert scan.commit_sha == repo.git("rev-parse", "HEAD")
    assert code_findings(scan) == {
        ("bandit", "B404", "app.py", 1, "new"),
        ("bandit", "B105", "app.py", 4, "new"),
        ("bandit", "B602", "app.py", 8, "new"),
        ("secrets", "aws-access-key", "app.py", 3, "new"),
        ("secrets", "secret-keyword", "app.py", 4, "new"),
    }
    dependency = scan.findings.filter(tool="dependencies")
    django = dependency.exclude(severity="info").get()  # one finding for django 3.2.0 ...
    assert django.rule_id == "SP-DEP-VULNERABLE"
    assert {a["id"] for a in django.properties["advisories"]} == DJANGO_320_ADVISORIES  # ... all
    assert django.message.startswith("upgrade django 3.2.0 → 3.2.25 fixes 25 advisories: ")
    unpinned = dependency.get(severity="info")
    assert unpinned.rule_id == "SP-DEP-UNPINNED" and "requests>=2" in unpinned.message
    assert scan.findings_count == 5 + 1 + 1
    assert scan.progress == 100 and scan.summary["new"] == scan.findings_count


def test_secrets_never_appear_in_clear(tenant, advisories, tmp_path) -> None:
    # given
    repo = vulnerable_repo(tmp_path / "repo")
    # when: a first scan, and a second one served from the per-file cache
    first = start_scan(tenant, repo.path)["id"]
    wait_for_scan(first)
    second = start_scan(tenant, repo.path)["id"]
    wait_for_scan(second)
    # then
    for scan_id in (first, second):
        places = everything_shown_and_stored(tenant, scan_id)
        for place, text in places.items():
            leaked = [secret for secret in CLEAR_SECRETS if secret in text]
            assert not leaked, f"{leaked} in the {place} of scan {scan_id}"
        assert "Possible hardcoded password: ********" in places["scan page"]
    shown = {
        (f["rule_id"], f["message"], f["properties"]["masked_secret"], f["status"])
        for f in tenant.client.get(f"/api/scans/{second}/findings/?page_size=500").json()["results"]
        if "masked_secret" in f["properties"]
    }
    assert shown == {
        ("B105", "Possible hardcoded password: ********", "********", "unchanged"),
        ("secret-keyword", "Secret Keyword on line 4", "********", "unchanged"),
        ("aws-access-key", "AWS Access Key on line 3", "A********E", "unchanged"),
    }


def test_the_secret_id_key_reaches_analyzers_on_their_stdin_only(
    tenant, transactional_db, tmp_path, settings
) -> None:
    from scanpulse.core.keys import secret_id_key

    settings.SCANPULSE_ANALYZER_PATHS = [PLUGINS]
    settings.SCANPULSE_ANALYZERS = ["paced:ProcessProbeAnalyzer"]
    repo = vulnerable_repo(tmp_path / "repo")

    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])

    [note] = scan.summary["analyzers"]["secrets"]["notes"]
    seen = json.loads(note)
    assert seen["options"] == ["secret_id_key"]  # it was given the key, as an option
    key = secret_id_key().hex()
    for where in ("command line", "environment"):
        assert key not in seen[where] and settings.SECRET_KEY not in seen[where], where
    assert key != settings.SECRET_KEY.encode().hex()


def test_the_sarif_report_is_valid_and_complete(tenant, advisories, tmp_path) -> None:
    repo = vulnerable_repo(tmp_path / "repo")
    scan_id = start_scan(tenant, repo.path)["id"]
    wait_for_scan(scan_id)

    plain = tenant.client.get(f"/api/scans/{scan_id}/sarif")
    compressed = tenant.client.get(f"/api/scans/{scan_id}/sarif", HTTP_ACCEPT_ENCODING="gzip")

    assert plain["Content-Type"] == "application/sarif+json"
    document = json.loads(b"".join(plain.streaming_content))
    assert compressed["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(b"".join(compressed.streaming_content))) == document
    schema = json.loads(fixture_data("sarif", "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    assert document["version"] == "2.1.0"
    assert [run["tool"]["driver"]["name"] for run in document["runs"]] == [
        "bandit",
        "secrets",
        "dependencies",
        "checkov",
    ]
    results = [result for run in document["runs"] for result in run["results"]]
    assert len(results) == Scan.objects.get(pk=scan_id).findings_count
    for run in document["runs"]:
        rule_ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
        for result in run["results"]:
            assert result["ruleId"] in rule_ids
            assert result["partialFingerprints"]["primaryLocationLineHash"]
            assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert run["automationDetails"]["id"]
        assert run["versionControlProvenance"][0]["revisionId"] == repo.git("rev-parse", "HEAD")


def test_fingerprints_survive_lines_inserted_above(tenant, advisories, tmp_path) -> None:
    repo = vulnerable_repo(tmp_path / "repo")
    first = wait_for_scan(start_scan(tenant, repo.path)["id"])
    before = {(f.rule_id, f.fingerprint, f.start_line) for f in first.findings.all()}

    repo.write("app.py", '"""Module docstring."""\n\n# a comment\n' + VULNERABLE_APP)
    repo.commit("document the module")
    second = wait_for_scan(start_scan(tenant, repo.path)["id"])

    after = {(f.rule_id, f.fingerprint, f.start_line) for f in second.findings.all()}
    assert {(rule, fp) for rule, fp, _ in before} == {(rule, fp) for rule, fp, _ in after}
    moved = {rule: line for rule, _, line in after if rule == "B602"}
    assert moved == {"B602": 11}  # the line number moved, the identity did not
    assert set(second.findings.values_list("status", flat=True)) == {"unchanged"}


def test_new_unchanged_and_fixed_across_two_commits(tenant, advisories, tmp_path) -> None:
    repo = vulnerable_repo(tmp_path / "repo")
    wait_for_scan(start_scan(tenant, repo.path)["id"])

    # fix the shell injection, leave the rest, add a new problem
    repo.write("app.py", VULNERABLE_APP.replace("cmd, shell=True", "[cmd]"))
    repo.write("tools.py", "import pickle\n\n\ndef load(b):\n    return pickle.loads(b)\n")
    repo.commit("fix shell=True, add a loader")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])

    statuses = {
        (f.tool, f.rule_id, f.path): f.status for f in scan.findings.exclude(tool="dependencies")
    }
    assert statuses[("bandit", "B602", "app.py")] == "fixed"
    assert statuses[("bandit", "B404", "app.py")] == "unchanged"
    assert statuses[("secrets", "aws-access-key", "app.py")] == "unchanged"
    new = {key for key, status in statuses.items() if status == "new"}
    assert new == {
        ("bandit", "B603", "app.py"),  # the fix, subprocess without a shell, is still flagged
        ("bandit", "B403", "tools.py"),
        ("bandit", "B301", "tools.py"),
    }
    assert scan.summary["fixed"] == 1 and scan.summary["new"] == 3
    assert scan.findings_count == scan.findings.exclude(status="fixed").count()

    fixed_only = tenant.client.get(f"/api/scans/{scan.id}/findings/?status=fixed").json()
    assert [f["rule_id"] for f in fixed_only["results"]] == ["B602"]


def test_without_advisory_data_the_scan_says_so(tenant, transactional_db, tmp_path) -> None:
    repo = vulnerable_repo(tmp_path / "repo")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    assert scan.status == "completed"
    notes = scan.summary["analyzers"]["dependencies"]["notes"]
    assert any("no advisory database loaded" in note for note in notes)
    messages = [e["data"].get("message", "") for e in _events(tenant, scan.id)]
    assert any("no advisory database loaded" in message for message in messages)


def _events(tenant, scan_id) -> list[dict]:
    return tenant.client.get(f"/api/scans/{scan_id}/events?limit=500").json()["events"]


def test_progress_events_tell_the_story_in_order(tenant, advisories, tmp_path) -> None:
    repo = vulnerable_repo(tmp_path / "repo")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    events = _events(tenant, scan.id)

    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["kind"] == "completed" and events[-1]["seq"] == scan.last_event_seq
    steps = [e["data"]["step"] for e in events if e["kind"] == "step"]
    assert steps[:2] == ["Cloning repository", "Reading configuration"]
    assert "Running static analysis" in steps[2] and "Detecting secrets" in steps[2]
    assert steps[-2:] == ["Generating SARIF report", "Saving results"]
    progress = [e["data"]["progress"] for e in events if "progress" in e["data"]]
    assert progress == sorted(progress), "progress never goes backwards"
    counts = [e["data"]["findings_count"] for e in events if e["kind"] == "findings"]
    assert counts == sorted(counts) and counts[-1] == scan.findings_count


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_ref", "The ref 'release' does not exist in the repository."),
        ("empty", "The repository is empty: it has no commits to scan."),
        ("not_a_repo", "{path} is not a git repository."),
    ],
)
def test_unusable_sources_fail_with_a_clear_message(
    tenant, transactional_db, tmp_path, setup: str, message: str
) -> None:
    path = tmp_path / "repo"
    if setup == "missing_ref":
        vulnerable_repo(path)
    elif setup == "empty":
        GitRepo(path)
    else:
        path.mkdir()
    scan = wait_for_scan(
        start_scan(tenant, path, ref="release" if setup == "missing_ref" else "main")["id"]
    )
    message = message.format(path=path)
    assert scan.status == "failed"
    assert scan.error_message == message
    assert _events(tenant, scan.id)[-1]["data"]["message"] == message
    assert not list(Path(_work_dir()).glob("scan-*")), "no temporary checkout is left behind"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "SCANPULSE_CLONE_MAX_FILES",
            9,
            "The repository has more than 9 files and directories, the limit.",
        ),
        (
            "SCANPULSE_CLONE_MAX_BYTES",
            512 * 1024,
            "The repository is larger than the 512 KB limit.",
        ),
    ],
)
def test_a_repository_over_a_clone_limit_fails_saying_which(
    tenant, transactional_db, tmp_path, settings, setting: str, value: int, message: str
) -> None:
    # given: ten files of 100 KB
    repo = GitRepo(tmp_path / "repo")
    for index in range(10):
        repo.write(f"f{index}.txt", str(index) * 100_000)
    repo.commit()
    setattr(settings, setting, value)

    # when
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])

    # then
    assert (scan.status, scan.error_message) == ("failed", message)
    assert _events(tenant, scan.id)[-1]["data"]["message"] == message
    assert not list(Path(_work_dir()).glob("scan-*")), "no temporary checkout is left behind"


def _work_dir() -> Path:
    from django.conf import settings

    return Path(settings.SCANPULSE_WORK_DIR)


def test_hostile_and_broken_files_never_break_the_scan(tenant, advisories, tmp_path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("ok.py", "import subprocess\nsubprocess.call('ls', shell=True)\n")
    repo.write("latin1.py", b"# caf\xe9\nx = 1\n")
    repo.write("binary.bin", bytes(range(256)) * 64)
    repo.write("big.txt", b"a" * (11 * 1024 * 1024))
    repo.write("broken.py", "def broken(:\n")
    repo.write("requirements.txt", "django==3.2.0\nthis is not a requirement!!\n-e .\n")
    repo.write("sub/requirements-dev.txt", "-r ../missing.txt\n")
    repo.write("package-lock.json", "{not json")
    repo.write("poetry.lock", "[[package]\nname =")
    os.symlink("/etc/passwd", repo.path / "passwd-link")
    repo.commit("hostile")

    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])

    assert scan.status == "completed", scan.error_message
    log = "\n".join(e["data"].get("message", "") for e in _events(tenant, scan.id))
    assert "passwd-link: symbolic link to a path outside the repository, skipped" in log
    assert "big.txt" in log and "exceeds" in log
    assert "broken.py" in log
    assert "package-lock.json" in log and "poetry.lock" in log
    assert "this is not a requirement" in log
    assert ("bandit", "B602", "ok.py", 2, "new") in code_findings(scan)
    (django,) = scan.findings.filter(tool="dependencies", rule_id="SP-DEP-VULNERABLE")
    assert "PYSEC-2021-98" in django.properties["advisory_ids"]
    assert not list(_work_dir().glob("scan-*"))


def test_an_analyzer_that_fails_is_visible_and_the_rest_still_count(
    tenant, transactional_db, tmp_path, settings
) -> None:
    settings.SCANPULSE_ANALYZER_PATHS = [PLUGINS]
    settings.SCANPULSE_ANALYZERS = [
        "paced:CrashingAnalyzer",
        "scanpulse.analyzers.bandit:BanditAnalyzer",
    ]
    repo = vulnerable_repo(tmp_path / "repo")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    assert scan.status == "completed"
    assert scan.summary["analyzers"]["crashing"]["outcome"] == "failed"
    assert scan.summary["analyzers"]["crashing"]["errors"] == [
        "analyzer crashing crashed (exit code 70)"
    ]
    assert scan.findings.filter(tool="bandit").count() == 3
    assert "Analyzer crashing failed: analyzer crashing crashed (exit code 70)" in [
        e["data"].get("message") for e in _events(tenant, scan.id)
    ]


def test_when_no_analyzer_can_run_the_scan_fails(
    tenant, transactional_db, tmp_path, settings
) -> None:
    settings.SCANPULSE_ANALYZER_PATHS = [PLUGINS]
    settings.SCANPULSE_ANALYZERS = ["paced:CrashingAnalyzer"]
    repo = vulnerable_repo(tmp_path / "repo")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    assert scan.status == "failed"
    assert scan.error_message == (
        "No analyzer could run. crashing: analyzer crashing crashed (exit code 70)"
    )


def test_cancelling_a_running_scan(tenant, transactional_db, tmp_path, settings) -> None:
    settings.SCANPULSE_ANALYZER_PATHS = [PLUGINS]
    settings.SCANPULSE_ANALYZERS = ["paced:PacedAnalyzer"]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"paced": {"seconds_per_file": 1.0}}
    repo = GitRepo(tmp_path / "repo")
    for index in range(30):
        repo.write(f"f{index}.txt", "x\n")
    repo.commit()
    scan_id = start_scan(tenant, repo.path)["id"]
    _wait_until(lambda: Scan.objects.get(pk=scan_id).progress > 10)

    response = tenant.client.post(f"/api/scans/{scan_id}/cancel")
    again = tenant.client.post(f"/api/scans/{scan_id}/cancel")

    assert response.status_code == 200 and again.status_code == 200
    scan = wait_for_scan(scan_id, timeout=5)
    assert scan.status == "cancelled"
    assert scan.error_message == f"Scan cancelled by {tenant.user.email}."
    terminal = [
        e for e in _events(tenant, scan_id) if e["kind"] in ("completed", "failed", "cancelled")
    ]
    assert len(terminal) == 1 and terminal[0]["kind"] == "cancelled"
    assert not Finding.objects.filter(scan_id=scan_id).exists()


def test_cancelling_a_pending_scan_never_runs_it(tenant, transactional_db, tmp_path) -> None:
    from scanpulse.scans.services import scan_cancel, scan_create

    repo = vulnerable_repo(tmp_path / "repo")
    project = tenant.client.post(
        "/api/projects/", {"name": "p", "repo_url": str(repo.path)}, format="json"
    ).json()
    from scanpulse.projects.models import Project

    with pytest.MonkeyPatch.context() as patch:
        # hold the scan in the queue: nothing is submitted until we say so
        patch.setattr(
            "scanpulse.scans.executors.inprocess.InProcessExecutor.submit",
            lambda self, scan_id: None,
        )
        scan = scan_create(user=tenant.user, project=Project.objects.get(pk=project["id"]))
    cancelled = scan_cancel(user=tenant.user, scan=scan)
    assert cancelled.status == "cancelled"
    from scanpulse.scans.attempts import run_scan

    run_scan(scan_id=scan.id)  # a late delivery of the queued task
    scan.refresh_from_db()
    assert scan.status == "cancelled" and scan.started_at is None


def _wait_until(condition, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError


def test_a_rescan_reuses_per_file_results(tenant, advisories, tmp_path) -> None:
    from scanpulse.scans.models import AnalysisCacheEntry

    repo = vulnerable_repo(tmp_path / "repo")
    first = wait_for_scan(start_scan(tenant, repo.path)["id"])
    cached = AnalysisCacheEntry.objects.count()
    second = wait_for_scan(start_scan(tenant, repo.path)["id"])
    assert cached >= 2  # bandit and secrets results of app.py (and secrets of requirements.txt)
    assert AnalysisCacheEntry.objects.count() == cached
    assert code_findings(first) == {
        (tool, rule, path, line, "new") for tool, rule, path, line, _ in code_findings(second)
    }


# -- many findings ---------------------------------------------------------------------------


def _prolific(settings, repo_path: Path, *, files: int, per_file: int, also: tuple = ()) -> None:
    settings.SCANPULSE_ANALYZER_PATHS = [PLUGINS]
    settings.SCANPULSE_ANALYZERS = ["flagging:ProlificAnalyzer", *also]
    settings.SCANPULSE_ANALYZER_OPTIONS = {"prolific": {"per_file": per_file}}
    repo = GitRepo(repo_path)
    for index in range(files):
        repo.write(f"f{index:03d}.txt", "flag\n" * per_file)
    repo.commit()


@pytest.mark.parametrize(
    ("also", "culprit"),
    [((), "analyzer prolific"), (("flagging:FlagAnalyzer",), "the analyzers")],
    ids=["one analyzer", "analyzers together"],
)
def test_more_findings_than_the_limit_fail_the_scan_and_say_why(
    tenant, transactional_db, tmp_path, settings, also: tuple, culprit: str
) -> None:
    # given: 15 files of 80 findings each (per analyzer), against a limit of 1,000
    settings.SCANPULSE_MAX_FINDINGS = 1000
    per_file = 80 if not also else 40
    _prolific(settings, tmp_path / "repo", files=15, per_file=per_file, also=also)

    # when
    scan = wait_for_scan(start_scan(tenant, tmp_path / "repo")["id"])

    # then
    message = (
        f"The scan was stopped: {culprit} reported more than 1,000 findings, the limit set by "
        "SCANPULSE_MAX_FINDINGS."
    )
    assert (scan.status, scan.error_message) == ("failed", message)
    events = _events(tenant, scan.id)
    assert events[-1]["kind"] == "failed" and events[-1]["data"]["message"] == message
    assert f"{culprit} reported more than 1,000 findings: the scan stops here." in [
        e["data"].get("message") for e in events if e["kind"] == "log"
    ]
    assert not Finding.objects.filter(scan_id=scan.id).exists()


@pytest.mark.slow
@pytest.mark.parametrize("step", ["Generating SARIF report", "Saving results"])
def test_a_cancel_while_results_are_saved_ends_the_scan_within_seconds(
    tenant, transactional_db, tmp_path, settings, monkeypatch, step: str
) -> None:
    import time

    from scanpulse.scans.reporter import ScanReporter

    # given: a scan of 200,000 findings (saving them takes tens of seconds)
    _prolific(settings, tmp_path / "repo", files=100, per_file=2000)
    cancelled_at: list[float] = []
    report_step = ScanReporter.step

    def step_then_cancel(self, name, **kwargs) -> None:
        report_step(self, name, **kwargs)
        if name == step:  # the user presses "Cancel" as the step appears
            cancelled_at.append(time.monotonic())
            response = tenant.client.post(f"/api/scans/{self.scan_id}/cancel")
            assert response.status_code == 200

    monkeypatch.setattr(ScanReporter, "step", step_then_cancel)

    # when
    scan = wait_for_scan(start_scan(tenant, tmp_path / "repo")["id"], timeout=120)

    # then
    assert time.monotonic() - cancelled_at[0] < 3.0
    assert (scan.status, scan.error_message) == (
        "cancelled",
        f"Scan cancelled by {tenant.user.email}.",
    )
    events = _events(tenant, scan.id)
    assert [e["data"]["step"] for e in events if e["kind"] == "step"][-1] == step
    assert [e["kind"] for e in events if e["kind"] in ("completed", "failed", "cancelled")] == [
        "cancelled"
    ]
    assert not Finding.objects.filter(scan_id=scan.id).exists()
    assert not ScanReport.objects.filter(scan_id=scan.id).exists()


def test_findings_keep_the_code_around_them_with_every_secret_masked(
    tenant, advisories, tmp_path
) -> None:
    # given a file whose findings sit next to secrets, and a private key
    from tests.support.repos import PRIVATE_KEY

    repo = vulnerable_repo(tmp_path / "repo")
    repo.write("keys/id_rsa", PRIVATE_KEY)
    repo.commit("a key")
    key_body = PRIVATE_KEY.splitlines()[1]
    # when
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    assert scan.status == "completed", scan.error_message
    # then the import on line 1 shows lines 1 to 4, the secrets on them masked as in messages
    excerpt = scan.findings.get(rule_id="B404").properties["excerpt"]
    assert excerpt == {
        "start": 1,
        "lines": ["import subprocess", "", 'AWS_KEY = "A********E"', 'password = "********"'],
    }
    # the call on line 8: three lines before it, none after the end of the file
    assert scan.findings.get(rule_id="B602").properties["excerpt"] == {
        "start": 5,
        "lines": ["", "", "def run(cmd):", "    return subprocess.call(cmd, shell=True)"],
    }
    key = scan.findings.get(path="keys/id_rsa").properties["excerpt"]
    assert key == {"start": 1, "lines": ["********"] * 3}
    # nowhere in clear: not in the findings, the pages, the alert pages nor the exports
    for place, text in everything_shown_and_stored(tenant, scan.id).items():
        leaked = [s for s in (*CLEAR_SECRETS, key_body) if s in text]
        assert not leaked, f"{leaked} in the {place}"
