"""The bandit analyzer reports what bandit reports, with clear per-file outcomes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scanpulse.analyzers.bandit import BanditAnalyzer
from scanpulse.analyzers.base import AnalyzerContext, AnalyzerResult
from scanpulse.analyzers.redaction import KEY_OPTION, secret_id
from scanpulse.analyzers.result_cache import MemoryResultCache
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import AnalyzerFailure, Callbacks
from scanpulse.analyzers.secrets import SecretsAnalyzer

APP = """\
import subprocess


def run(x):
    subprocess.call(x, shell=True)


password = "hunter2"
"""

# The per-deployment key secrets are identified with, as the pipeline passes it.
KEY = bytes(range(32))
OPTIONS = {KEY_OPTION: KEY.hex()}


def _analyze(root: Path, files: list[str], workers: int = 1) -> AnalyzerResult:
    return BanditAnalyzer().run(
        AnalyzerContext(root=root, files=files, options=OPTIONS, max_workers=workers)
    )


def _identifier(secret: str) -> str:
    return secret_id(KEY, hashlib.sha1(secret.encode()).hexdigest())  # noqa: S324


def test_reports_bandit_issues_with_exact_rules_and_lines(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)

    result = _analyze(tmp_path, ["app.py"])

    assert [(f.rule_id, f.start_line, f.severity, f.confidence) for f in result.findings] == [
        ("B404", 1, "low", "high"),
        ("B602", 5, "high", "high"),
        ("B105", 8, "low", "medium"),
    ]
    shell = result.findings[1]
    assert shell.snippet == "subprocess.call(x, shell=True)"
    assert shell.path == "app.py" and shell.end_line == 5
    assert "shell=True" in shell.message
    assert shell.properties == {
        "cwe": 78,
        "more_info": shell.properties["more_info"],
        "test_name": "subprocess_popen_with_shell_equals_true",
        "bandit_confidence": "HIGH",
    }
    assert shell.properties["more_info"].startswith("https://bandit.readthedocs.io/")
    password = result.findings[2]
    assert password.message == "Possible hardcoded password: ********"
    assert password.snippet == password.properties["secret_id"] == _identifier("hunter2")
    assert (result.errors, result.files_analyzed, result.tool) == ([], 1, "bandit")


def test_rules_describe_every_reported_check(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)

    rules = {rule.id: rule for rule in _analyze(tmp_path, ["app.py"]).rules}

    assert sorted(rules) == ["B105", "B404", "B602"]
    assert rules["B602"].short_description == "Test for use of popen with shell equals true"
    assert rules["B602"].name == "subprocess_popen_with_shell_equals_true"
    assert rules["B602"].full_description.startswith("Python possesses many mechanisms")
    assert rules["B105"].short_description == "Test for use of hard-coded password strings"
    assert rules["B404"].name == "import_subprocess"
    assert "subprocess" in rules["B404"].short_description
    assert "{name}" not in rules["B404"].short_description
    assert rules["B404"].default_severity == "low"  # blacklist entries have a level
    assert rules["B602"].default_severity == "medium"  # plugins rate issues, not checks
    assert "CWE-78" in rules["B602"].tags
    assert all(
        rule.help_uri.startswith("https://bandit.readthedocs.io/") for rule in rules.values()
    )


def test_bad_files_get_clear_per_file_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "latin.py").write_bytes(b"name = 'caf\xe9'\n")
    (tmp_path / "blob.py").write_bytes(b"\x00\x01binary")
    (tmp_path / "legacy.py").write_bytes(b"# -*- coding: latin-1 -*-\npassword = 'caf\xe9'\n")
    (tmp_path / "odd.py").write_bytes(b"# -*- coding: klingon -*-\nx = 1\n")
    (tmp_path / "ok.py").write_text("x = 1\n")

    result = _analyze(
        tmp_path, ["blob.py", "broken.py", "latin.py", "legacy.py", "odd.py", "ok.py"]
    )

    assert result.errors == [
        "blob.py: binary file, skipped",
        "broken.py: bandit could not parse the file (syntax error)",
        "latin.py: not valid UTF-8, skipped",
        "odd.py: declares an unknown source encoding, skipped",
    ]
    assert [(f.path, f.rule_id, f.snippet) for f in result.findings] == [
        ("legacy.py", "B105", _identifier("café"))  # decoded as the coding cookie says
    ]
    assert result.files_analyzed == 2


def test_snippet_lines_follow_python_line_numbering(tmp_path: Path) -> None:
    (tmp_path / "ff.py").write_text("x = 1  # page\x0cbreak\nassert x\n")

    [finding] = _analyze(tmp_path, ["ff.py"]).findings

    assert (finding.start_line, finding.snippet) == (2, "assert x")


def test_selects_the_files_bandit_scans_by_default() -> None:
    analyzer = BanditAnalyzer()

    assert [p for p in ["a.py", "b.pyw", "c.pyi", "d.txt", "py"] if analyzer.selects(p)] == [
        "a.py",
        "b.pyw",
    ]


def test_parallel_run_matches_the_bandit_command_line(tmp_path: Path) -> None:
    files = []
    for index in range(120):
        name = f"pkg/m{index:03}.py"
        (tmp_path / name).parent.mkdir(exist_ok=True)
        body = APP if index % 7 == 0 else f"import pickle\nvalue = {index}\n"
        (tmp_path / name).write_text(body)
        files.append(name)
    progress: list[tuple[int, int]] = []

    result = BanditAnalyzer().run(
        AnalyzerContext(
            root=tmp_path,
            files=files,
            options=OPTIONS,
            max_workers=2,
            progress=lambda done, total: progress.append((done, total)),
        )
    )
    cli = subprocess.run(
        [sys.executable, "-m", "bandit", "-f", "json", "-q", "-r", "pkg"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )

    expected = {
        (issue["filename"], issue["line_number"], issue["test_id"])
        for issue in json.loads(cli.stdout)["results"]
    }
    assert {(f.path, f.start_line, f.rule_id) for f in result.findings} == expected
    assert len(result.findings) == len(expected)
    assert progress[0] == (0, 120) and progress[-1] == (120, 120) and len(progress) == 4
    assert result.to_dict() == _analyze(tmp_path, files).to_dict()


def test_through_the_runner_a_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "notes.txt").write_text("not python\n")
    cache = MemoryResultCache()
    progress: list[tuple[int, int]] = []

    first = run_analyzer(
        BanditAnalyzer, root=tmp_path, files=["app.py", "notes.txt"], options=OPTIONS, cache=cache
    )
    second = run_analyzer(
        BanditAnalyzer,
        root=tmp_path,
        files=["app.py", "notes.txt"],
        options=OPTIONS,
        cache=cache,
        callbacks=Callbacks(on_progress=lambda done, total: progress.append((done, total))),
    )

    assert [f.rule_id for f in first.findings] == ["B404", "B602", "B105"]
    assert second.to_dict() == first.to_dict()
    assert progress == [(1, 1)]


PASSWORDS = """\
import requests

DB_PASSWORD = "hunter2hunter2"
settings = {"api_token": "s3cr3tpa55wd"}


def connect(host, password="correct-horse-battery-staple"):
    return requests.get(host, auth=("admin", password), timeout=5)


connect("https://db.example", password="tr0ub4dor&3-tr0ub4dor&3")
if DB_PASSWORD == "hunter2hunter2":
    pass
"""
CLEAR = (
    "hunter2hunter2",
    "s3cr3tpa55wd",
    "correct-horse-battery-staple",
    "tr0ub4dor&3-tr0ub4dor&3",
)


def test_hardcoded_passwords_are_masked_and_identified_never_quoted(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(PASSWORDS)
    cache = MemoryResultCache()

    first = run_analyzer(
        BanditAnalyzer, root=tmp_path, files=["app.py"], options=OPTIONS, cache=cache
    )
    second = run_analyzer(
        BanditAnalyzer, root=tmp_path, files=["app.py"], options=OPTIONS, cache=cache
    )

    found = {
        (f.rule_id, f.start_line, f.message, f.properties["masked_secret"], f.snippet)
        for f in first.findings
        if f.rule_id in ("B105", "B106", "B107")
    }
    assert found == {
        ("B105", 3, "Possible hardcoded password: ********", "********", _identifier(CLEAR[0])),
        ("B105", 4, "Possible hardcoded password: ********", "********", _identifier(CLEAR[1])),
        ("B107", 7, "Possible hardcoded password: c********e", "c********e", _identifier(CLEAR[2])),
        (
            "B106",
            11,
            "Possible hardcoded password: t********3",
            "t********3",
            _identifier(CLEAR[3]),
        ),
        ("B105", 12, "Possible hardcoded password: ********", "********", _identifier(CLEAR[0])),
    }
    # Not in the result, nor in the cache a later scan is served from.
    assert second.to_dict() == first.to_dict()
    for text in (json.dumps(first.to_dict()), json.dumps(cache.entries)):
        assert not [secret for secret in CLEAR if secret in text]


def test_a_password_gets_the_same_identifier_from_bandit_and_the_secrets_analyzer(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.py").write_text('password = "s3cr3tpa55wd"\n')

    [bandit] = _analyze(tmp_path, ["app.py"]).findings
    [secret] = (
        SecretsAnalyzer()
        .run(AnalyzerContext(root=tmp_path, files=["app.py"], options=OPTIONS))
        .findings
    )

    assert bandit.properties["secret_id"] == secret.properties["secret_id"]
    assert bandit.properties["masked_secret"] == secret.properties["masked_secret"] == "********"


@pytest.mark.parametrize("options", [{}, {KEY_OPTION: ""}])
def test_without_a_key_bandit_refuses_to_run(tmp_path: Path, options: dict[str, str]) -> None:
    (tmp_path / "app.py").write_text(APP)

    result = run_analyzer(BanditAnalyzer, root=tmp_path, files=["app.py"], options=options)

    assert isinstance(result, AnalyzerFailure) and result.findings == []
