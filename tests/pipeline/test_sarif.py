"""The SARIF report: schema-valid, what GitHub code scanning needs, within its limits."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.analyzers.base import (
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
    Severity,
)
from scanpulse.analyzers.dependencies import DependenciesAnalyzer
from scanpulse.pipeline.fingerprints import assign_fingerprints, occurrence_indexes
from scanpulse.pipeline.sarif import (
    FINGERPRINT_KEY,
    GitHubLimits,
    ReportedFinding,
    SarifRun,
    StreamedSarifRun,
    automation_id_for,
    build_sarif,
    iter_sarif_chunks,
    write_sarif,
)
from tests.support.data import fixture_data

STARTED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=42)
AUTOMATION_ID = "scanpulse/acme-shop/scan-1234"
REPOSITORY = "https://github.com/acme/shop.git"
COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"

# RFC 3986 characters of a URI (reference): unreserved, reserved and percent-encoded octets.
URI_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-F]{2})*")


@cache
def sarif_validator() -> jsonschema.Draft4Validator:
    schema_path = fixture_data("sarif", "sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(json.loads(schema_path.read_text(encoding="utf-8")))


def assert_schema_valid(document: dict[str, Any]) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in sarif_validator().iter_errors(document)
    ]
    assert errors == []


def finding(
    rule_id: str,
    severity: Severity,
    path: str,
    line: int | None,
    message: str,
    snippet: str = "",
    **properties: Any,
) -> AnalyzerFinding:
    return AnalyzerFinding(
        rule_id=rule_id,
        severity=severity,
        confidence="high",
        path=path,
        start_line=line,
        end_line=line,
        message=message,
        snippet=snippet,
        properties=properties,
    )


def sarif_run(result: AnalyzerResult, *, succeeded: bool = True) -> SarifRun:
    return SarifRun(
        result=result,
        fingerprints=assign_fingerprints(result.tool, result.findings),
        started=STARTED,
        finished=FINISHED,
        succeeded=succeeded,
    )


def bandit_result() -> AnalyzerResult:
    return AnalyzerResult(
        tool="bandit",
        tool_version="1.8.3",
        rules=[
            Rule(
                id="B602",
                name="subprocess_popen_with_shell_equals_true",
                short_description="subprocess call with shell=True identified.",
                full_description="Spawning a shell with untrusted input allows injection.",
                help_text="Pass a list of arguments and leave shell=False.",
                help_uri="https://bandit.readthedocs.io/en/latest/plugins/b602_subprocess_popen_with_shell_equals_true.html",
                default_severity="high",
                tags=("external/cwe/cwe-78",),
            ),
            Rule(
                id="B307",
                name="eval",
                short_description="Use of possibly insecure function eval.",
                default_severity="medium",
            ),
            Rule(id="B101", name="assert_used", short_description="Use of assert detected."),
        ],
        findings=[
            finding("B307", "medium", "app/views.py", 12, "Use of eval.", "eval(data)"),
            finding("B307", "medium", "app/views.py", 30, "Use of eval.", "  eval(data)"),
            finding(
                "B602",
                "high",
                "scripts/déploiement rapide.py",
                5,
                "Appel de sous-processus avec shell=True — données non fiables ⚠",
                "subprocess.run(cmd, shell=True)",
                more_info="https://bandit.readthedocs.io/",
            ),
            finding("B101", "info", "tests/test ünïcode.py", 3, "assert used", "assert ok"),
        ],
        files_analyzed=57,
    )


def secrets_result() -> AnalyzerResult:
    return AnalyzerResult(
        tool="secrets",
        tool_version="1.5.0",
        rules=[
            Rule(
                id="AWSKeyDetector",
                name="AWS Access Key",
                short_description="An AWS access key is committed to the repository.",
                default_severity="critical",
                tags=("secret",),
            )
        ],
        findings=[
            finding(
                "AWSKeyDetector",
                "critical",
                "config/settings prod.env",
                8,
                "AWS access key committed.",
                "5e0c8f3a9d1b7c2e4f6a8b0c1d3e5f7a",
                secret_id="5e0c8f3a9d1b7c2e4f6a8b0c1d3e5f7a",
                masked_secret="A********E",
            )
        ],
    )


def dependencies_result() -> AnalyzerResult:
    return AnalyzerResult(
        tool="dependencies",
        tool_version="0.1.0",
        rules=[
            Rule(
                id="PYSEC-2023-62",
                name="requests: Proxy-Authorization header leak",
                short_description="requests leaks Proxy-Authorization headers on redirects.",
                help_uri="https://osv.dev/vulnerability/PYSEC-2023-62",
                default_severity="medium",
                tags=("dependency", "pypi"),
            ),
            Rule(
                id="unpinned-requirements",
                name="Unpinned requirements",
                short_description="Requirements without a version cannot be checked.",
                default_severity="low",
            ),
        ],
        findings=[
            finding(
                "PYSEC-2023-62",
                "medium",
                "requirements.txt",
                4,
                "requests 2.30.0 is affected by PYSEC-2023-62; upgrade to 2.31.0.",
                "requests==2.30.0",
                package="requests",
                version="2.30.0",
                fixed_in=["2.31.0"],
            ),
            # A whole-file finding: no line to point at.
            finding(
                "unpinned-requirements",
                "low",
                "requirements-dev.txt",
                None,
                "No requirement in this file is pinned.",
            ),
        ],
        notes=["Advisory database: PyPA snapshot 2024-10-10."],
    )


def failed_result() -> AnalyzerResult:
    return AnalyzerResult(
        tool="bandit",
        tool_version="1.8.3",
        errors=["src/legacy.py: not valid UTF-8, skipped", "bandit exited after 1800 s"],
        notes=["Only 12 of 340 files were analyzed."],
    )


def realistic_report() -> dict[str, Any]:
    return build_sarif(
        [
            sarif_run(bandit_result()),
            sarif_run(secrets_result()),
            sarif_run(dependencies_result()),
        ],
        automation_id=AUTOMATION_ID,
        repository_uri=REPOSITORY,
        commit_sha=COMMIT,
        ref="refs/heads/main",
    )


def all_results(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for run in document["runs"]:
        yield from run["results"]


def test_realistic_report_is_valid_sarif() -> None:
    document = realistic_report()
    assert_schema_valid(document)
    assert document["version"] == "2.1.0"
    assert [run["tool"]["driver"]["name"] for run in document["runs"]] == [
        "bandit",
        "secrets",
        "dependencies",
    ]


def test_failed_run_reports_its_errors_and_notes() -> None:
    document = build_sarif(
        [sarif_run(failed_result(), succeeded=False)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
    )
    assert_schema_valid(document)
    [run] = document["runs"]
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["startTimeUtc"] == "2024-05-01T12:00:00.000Z"
    assert invocation["endTimeUtc"] == "2024-05-01T12:00:42.000Z"
    assert invocation["toolExecutionNotifications"] == [
        {"level": "error", "message": {"text": "src/legacy.py: not valid UTF-8, skipped"}},
        {"level": "error", "message": {"text": "bandit exited after 1800 s"}},
        {"level": "note", "message": {"text": "Only 12 of 340 files were analyzed."}},
    ]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []
    assert "versionControlProvenance" not in run


def test_github_required_properties_are_present_and_non_empty() -> None:
    document = realistic_report()
    assert document["$schema"]
    assert document["runs"]
    for run in document["runs"]:
        driver = run["tool"]["driver"]
        assert driver["name"]
        assert isinstance(driver["rules"], list)
        for rule in driver["rules"]:
            assert rule["id"]
            assert rule["shortDescription"]["text"]
            assert rule["fullDescription"]["text"]
            assert rule["help"]["text"]
            assert len(rule["name"]) <= 255
        assert isinstance(run["results"], list)
        for result in run["results"]:
            assert result["message"]["text"]
            assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
            [location] = result["locations"]
            assert location["physicalLocation"]["artifactLocation"]["uri"]
            assert re.fullmatch(
                r"[0-9a-f]{16}:[1-9][0-9]*",
                result["partialFingerprints"]["primaryLocationLineHash"],
            )
        assert run["automationDetails"]["id"] == AUTOMATION_ID
        assert run["columnKind"] == "utf16CodeUnits"
        assert "%SRCROOT%" in run["originalUriBaseIds"]


def test_uris_and_timestamps_are_well_formed() -> None:
    document = realistic_report()
    assert_absolute_uri(document["$schema"])
    for run in document["runs"]:
        driver = run["tool"]["driver"]
        assert_absolute_uri(driver["informationUri"])
        for rule in driver["rules"]:
            if "helpUri" in rule:
                assert_absolute_uri(rule["helpUri"])
        for details in run["versionControlProvenance"]:
            assert_absolute_uri(details["repositoryUri"])
        for result in run["results"]:
            uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            assert URI_CHARS.fullmatch(uri), uri
            assert not urlsplit(uri).scheme
        for moment in (run["invocations"][0]["startTimeUtc"], run["invocations"][0]["endTimeUtc"]):
            assert moment.endswith("Z")
            assert datetime.fromisoformat(moment).tzinfo is not None


def assert_absolute_uri(uri: str) -> None:
    assert URI_CHARS.fullmatch(uri), uri
    parts = urlsplit(uri)
    assert parts.scheme
    assert parts.netloc or parts.scheme == "file"


def test_non_ascii_paths_and_spaces_are_percent_encoded_and_round_trip() -> None:
    document = realistic_report()
    by_message = {result["message"]["text"]: result for result in all_results(document)}
    result = by_message["Appel de sous-processus avec shell=True — données non fiables ⚠"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {
        "uri": "scripts/d%C3%A9ploiement%20rapide.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert unquote(location["uri"]) == "scripts/déploiement rapide.py"
    secret = by_message["AWS access key committed."]
    secret_uri = secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert secret_uri == "config/settings%20prod.env"


def test_serialized_report_is_ascii_json() -> None:
    text = "".join(
        iter_sarif_chunks(
            [sarif_run(bandit_result())],
            automation_id=AUTOMATION_ID,
            repository_uri=None,
            commit_sha=None,
            ref=None,
        )
    )
    assert text.isascii()
    assert "données" in json.loads(text)["runs"][0]["results"][0]["message"]["text"]


def test_finding_without_a_line_keeps_its_location_but_has_no_region() -> None:
    document = realistic_report()
    [whole_file] = [r for r in all_results(document) if r["ruleId"] == "unpinned-requirements"]
    assert whole_file["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "requirements-dev.txt", "uriBaseId": "%SRCROOT%"}
            }
        }
    ]
    [pinned] = [r for r in all_results(document) if r["ruleId"] == "PYSEC-2023-62"]
    assert pinned["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "endLine": 4}


@pytest.mark.parametrize(
    ("severity", "level", "security_severity"),
    [
        ("critical", "error", "9.5"),
        ("high", "error", "8.0"),
        ("medium", "warning", "5.5"),
        ("low", "note", "2.0"),
        ("info", "note", None),
    ],
)
def test_severity_maps_to_level_and_security_severity(
    severity: Severity, level: str, security_severity: str | None
) -> None:
    result = AnalyzerResult(
        tool="bandit",
        tool_version="1.8.3",
        rules=[Rule(id="R1", name="r1", short_description="R1", default_severity=severity)],
        findings=[finding("R1", severity, "a.py", 1, "m", "x", **{"security-severity": "1.0"})],
    )
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
    )
    [run] = document["runs"]
    [rule] = run["tool"]["driver"]["rules"]
    [sarif_result] = run["results"]
    assert rule["defaultConfiguration"]["level"] == level
    assert sarif_result["level"] == level
    assert rule["properties"].get("security-severity") == security_severity
    assert sarif_result["properties"].get("security-severity") == security_severity
    assert sarif_result["properties"]["severity"] == severity
    assert sarif_result["properties"]["confidence"] == "high"
    assert "security" in rule["properties"]["tags"]


def test_rules_describe_the_tool_for_github() -> None:
    document = realistic_report()
    bandit, secrets, dependencies = document["runs"]
    driver = bandit["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == "1.8.3"
    assert driver["informationUri"] == "https://bandit.readthedocs.io/"
    assert secrets["tool"]["driver"]["informationUri"] == "https://github.com/Yelp/detect-secrets"
    assert dependencies["tool"]["driver"]["informationUri"].startswith("https://")
    b602 = driver["rules"][0]
    assert b602 == {
        "id": "B602",
        "name": "subprocess_popen_with_shell_equals_true",
        "shortDescription": {"text": "subprocess call with shell=True identified."},
        "fullDescription": {"text": "Spawning a shell with untrusted input allows injection."},
        "help": {"text": "Pass a list of arguments and leave shell=False."},
        "defaultConfiguration": {"level": "error"},
        "helpUri": "https://bandit.readthedocs.io/en/latest/plugins/b602_subprocess_popen_with_shell_equals_true.html",
        "properties": {"tags": ["security", "external/cwe/cwe-78"], "security-severity": "8.0"},
    }
    # A rule without descriptions still gets the non-empty texts GitHub requires.
    b101 = driver["rules"][2]
    assert b101["fullDescription"] == b101["help"] == {"text": "Use of assert detected."}
    assert "helpUri" not in b101


@pytest.mark.parametrize(
    ("version", "semantic"),
    [("1.8.3", True), ("2.0.0-rc.1+build.5", True), ("1.8", False), ("2024.10.01", False)],
)
def test_semantic_version_only_when_valid_semver(version: str, semantic: bool) -> None:
    result = AnalyzerResult(tool="some-tool", tool_version=version)
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
    )
    driver = document["runs"][0]["tool"]["driver"]
    assert driver["version"] == version
    assert ("semanticVersion" in driver) is semantic
    assert "informationUri" not in driver


def test_results_carry_fingerprints_and_line_hashes() -> None:
    result = bandit_result()
    fingerprints = assign_fingerprints("bandit", result.findings)
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
    )
    results = document["runs"][0]["results"]
    assert sorted(r["fingerprints"][FINGERPRINT_KEY] for r in results) == sorted(fingerprints)
    # The two identical eval() lines: distinct fingerprints, line hashes :1 and :2.
    evals = [r for r in results if r["ruleId"] == "B307"]
    assert len({r["fingerprints"][FINGERPRINT_KEY] for r in evals}) == 2
    hashes = sorted(r["partialFingerprints"]["primaryLocationLineHash"] for r in evals)
    assert hashes[0].split(":")[0] == hashes[1].split(":")[0]
    assert [h.split(":")[1] for h in hashes] == ["1", "2"]
    assert results[0]["properties"]["more_info"] == "https://bandit.readthedocs.io/"


def test_results_are_ordered_most_severe_first() -> None:
    results = realistic_report()["runs"][0]["results"]
    assert [r["properties"]["severity"] for r in results] == ["high", "medium", "medium", "info"]


def test_version_control_provenance() -> None:
    document = realistic_report()
    assert document["runs"][0]["versionControlProvenance"] == [
        {
            "repositoryUri": REPOSITORY,
            "revisionId": COMMIT,
            "branch": "main",
            "mappedTo": {"uriBaseId": "%SRCROOT%"},
        }
    ]


@pytest.mark.parametrize(
    ("repository_uri", "ref", "expected"),
    [
        (
            "https://ci:ghp_s3cret@github.com/acme/shop.git?token=x#frag",
            "refs/tags/v1.2.0",
            {"repositoryUri": "https://github.com/acme/shop.git", "revisionTag": "v1.2.0"},
        ),
        (
            "git@github.com:acme/shop.git",
            "refs/pull/7/merge",
            {"repositoryUri": "ssh://github.com/acme/shop.git", "branch": "refs/pull/7/merge"},
        ),
        ("/srv/git/my repo", None, {"repositoryUri": "file:///srv/git/my%20repo"}),
    ],
)
def test_repository_uri_is_made_absolute_and_loses_credentials(
    repository_uri: str, ref: str | None, expected: dict[str, str]
) -> None:
    document = build_sarif(
        [sarif_run(secrets_result())],
        automation_id=AUTOMATION_ID,
        repository_uri=repository_uri,
        commit_sha=COMMIT,
        ref=ref,
    )
    assert_schema_valid(document)
    [details] = document["runs"][0]["versionControlProvenance"]
    assert details == {**expected, "revisionId": COMMIT, "mappedTo": {"uriBaseId": "%SRCROOT%"}}
    assert "s3cret" not in json.dumps(document)


def test_no_provenance_without_a_commit() -> None:
    document = build_sarif(
        [sarif_run(secrets_result())],
        automation_id=AUTOMATION_ID,
        repository_uri=REPOSITORY,
        commit_sha=None,
        ref="refs/heads/main",
    )
    assert "versionControlProvenance" not in document["runs"][0]


def test_automation_id_category_is_everything_before_the_last_slash() -> None:
    automation_id = automation_id_for("acme/shop", "b0c7e4")
    category, _, run_id = automation_id.rpartition("/")
    assert (category, run_id) == ("scanpulse/acme/shop", "b0c7e4")
    with pytest.raises(ValueError, match="contain no '/'"):
        automation_id_for("acme", "2024/05")


def streamed(result: AnalyzerResult) -> StreamedSarifRun:
    """The same run as the pipeline would rebuild it from stored findings, lazily."""
    fingerprints = assign_fingerprints(result.tool, result.findings)
    occurrences = occurrence_indexes(result.findings)

    def rows() -> Iterator[ReportedFinding]:
        for item, fp, index in zip(result.findings, fingerprints, occurrences, strict=True):
            yield ReportedFinding(item, fp, index)

    return StreamedSarifRun(
        tool=result.tool,
        tool_version=result.tool_version,
        rules=result.rules,
        findings=rows(),
        started=STARTED,
        finished=FINISHED,
        succeeded=True,
        errors=result.errors,
        notes=result.notes,
    )


def test_streaming_and_building_produce_identical_json() -> None:
    results = [bandit_result(), secrets_result(), dependencies_result()]
    options: dict[str, Any] = {
        "automation_id": AUTOMATION_ID,
        "repository_uri": REPOSITORY,
        "commit_sha": COMMIT,
        "ref": "refs/heads/main",
    }
    chunks = list(iter_sarif_chunks([streamed(r) for r in results], chunk_chars=512, **options))
    assert len(chunks) > 1
    streamed_text = "".join(chunks)

    built = build_sarif([sarif_run(r) for r in results], **options)
    assert json.loads(streamed_text) == built
    in_memory_text = "".join(iter_sarif_chunks([sarif_run(r) for r in results], **options))
    assert streamed_text == in_memory_text

    sink = io.StringIO()
    write_sarif(sink, [sarif_run(r) for r in results], **options)
    assert sink.getvalue() == streamed_text


def test_run_inputs_are_checked() -> None:
    result = bandit_result()
    with pytest.raises(ValueError, match="3 fingerprints for 4 findings"):
        SarifRun(result, ["a", "b", "c"], STARTED, FINISHED, True)
    naive = datetime(2024, 5, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        SarifRun(result, assign_fingerprints("bandit", result.findings), naive, FINISHED, True)


def test_times_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    run = SarifRun(failed_result(), [], datetime(2024, 5, 1, 14, 0, tzinfo=paris), FINISHED, False)
    document = build_sarif(
        [run], automation_id=AUTOMATION_ID, repository_uri=None, commit_sha=None, ref=None
    )
    assert document["runs"][0]["invocations"][0]["startTimeUtc"] == "2024-05-01T12:00:00.000Z"


# --- limits ---------------------------------------------------------------------------------

SEVERITY_CYCLE: tuple[Severity, ...] = ("info", "low", "critical", "medium", "low", "high")


def many_findings(count: int, *, tool: str = "bandit") -> AnalyzerResult:
    findings = [
        finding(
            "R1",
            SEVERITY_CYCLE[i % len(SEVERITY_CYCLE)],
            f"pkg/module_{i}.py",
            i + 1,
            f"problem {i}",
            f"line {i}",
        )
        for i in range(count)
    ]
    return AnalyzerResult(
        tool=tool,
        tool_version="1.0.0",
        rules=[Rule(id="R1", name="r1", short_description="Rule one")],
        findings=findings,
    )


def notifications(run: dict[str, Any]) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = run["invocations"][0].get("toolExecutionNotifications", [])
    return notes


def test_results_beyond_the_per_run_limit_are_dropped_least_severe_first() -> None:
    result = many_findings(12)  # 2 critical, 2 high, 2 medium, 4 low, 2 info
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
        limits=GitHubLimits(results_per_run=5),
    )
    assert_schema_valid(document)
    [run] = document["runs"]
    kept = [(r["properties"]["severity"], r["message"]["text"]) for r in run["results"]]
    assert kept == [
        ("critical", "problem 2"),
        ("critical", "problem 8"),
        ("high", "problem 5"),
        ("high", "problem 11"),
        ("medium", "problem 3"),
    ]
    assert notifications(run) == [
        {
            "level": "warning",
            "message": {
                "text": "Left out 7 of 12 results (medium 1, low 4, info 2) to stay within"
                " GitHub code scanning's limit of 5 results per run; the most severe results"
                " were kept."
            },
        }
    ]


def test_rules_beyond_the_limit_keep_the_ones_results_use() -> None:
    result = AnalyzerResult(
        tool="bandit",
        tool_version="1.8.3",
        rules=[Rule(id=f"R{i}", name=f"r{i}", short_description=f"Rule {i}") for i in range(5)],
        findings=[finding("R4", "high", "a.py", 1, "m"), finding("R9", "low", "b.py", 2, "n")],
    )
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
        limits=GitHubLimits(rules_per_run=3),
    )
    assert_schema_valid(document)
    [run] = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    # R9 was never declared: it gets a minimal descriptor so its result has a rule.
    assert [rule["id"] for rule in rules] == ["R0", "R4", "R9"]
    assert rules[2]["defaultConfiguration"]["level"] == "note"
    for sarif_result in run["results"]:
        assert rules[sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]
    assert [n["message"]["text"] for n in notifications(run)] == [
        "Left out 3 rules that no result refers to, to stay within GitHub code scanning's"
        " limit of 3 rules per run."
    ]


def test_tags_beyond_the_limit_are_cut_keeping_security_first() -> None:
    tags = tuple(f"tag-{i}" for i in range(6))
    result = AnalyzerResult(
        tool="bandit",
        tool_version="1.8.3",
        rules=[Rule(id="R1", name="r1", short_description="Rule one", tags=tags)],
    )
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
        limits=GitHubLimits(tags_per_rule=3),
    )
    [run] = document["runs"]
    assert run["tool"]["driver"]["rules"][0]["properties"]["tags"] == [
        "security",
        "tag-0",
        "tag-1",
    ]
    assert [n["message"]["text"] for n in notifications(run)] == [
        "Cut the tags of 1 rules to the first 3, GitHub code scanning's limit per rule."
    ]


def test_runs_beyond_the_limit_are_dropped_with_a_note_in_the_first_run() -> None:
    runs = [sarif_run(many_findings(1, tool=f"tool-{i}")) for i in range(3)]
    document = build_sarif(
        runs,
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
        limits=GitHubLimits(runs_per_file=2),
    )
    assert_schema_valid(document)
    assert [run["tool"]["driver"]["name"] for run in document["runs"]] == ["tool-0", "tool-1"]
    assert [n["message"]["text"] for n in notifications(document["runs"][0])] == [
        "Left out 1 analyzer runs (tool-2) to stay within GitHub code scanning's limit of"
        " 2 runs per SARIF file."
    ]
    assert notifications(document["runs"][1]) == []


def test_gzip_size_limit_drops_least_severe_results_and_spares_later_runs() -> None:
    rng = random.Random(1234)
    noisy = AnalyzerResult(
        tool="bandit",
        tool_version="1.8.3",
        rules=[Rule(id="R1", name="r1", short_description="Rule one")],
        findings=[
            finding(
                "R1",
                "critical" if i % 500 == 0 else "low",
                f"pkg/m{i}.py",
                i + 1,
                # Random text does not compress, so the size limit really bites.
                f"{rng.getrandbits(256):064x}",
                f"line {i}",
            )
            for i in range(3000)
        ],
    )
    quiet = many_findings(30, tool="secrets")
    limit = 60_000
    text = "".join(
        iter_sarif_chunks(
            [sarif_run(noisy), sarif_run(quiet)],
            automation_id=AUTOMATION_ID,
            repository_uri=None,
            commit_sha=None,
            ref=None,
            limits=GitHubLimits(gzip_bytes=limit),
        )
    )
    assert len(gzip.compress(text.encode(), compresslevel=6)) <= limit
    document = json.loads(text)
    assert_schema_valid(document)
    noisy_run, quiet_run = document["runs"]

    severities = [r["properties"]["severity"] for r in noisy_run["results"]]
    assert 100 < len(severities) < 3000
    assert severities[:6] == ["critical"] * 6
    assert set(severities[6:]) == {"low"}
    dropped = 3000 - len(severities)
    assert notifications(noisy_run) == [
        {
            "level": "warning",
            "message": {
                "text": f"Left out {dropped:,} results (low {dropped:,}) to keep the"
                " gzip-compressed report under GitHub code scanning's 60,000-byte upload"
                " limit; the most severe results were kept."
            },
        }
    ]
    assert len(quiet_run["results"]) == 30
    assert notifications(quiet_run) == []


def test_default_limits_accept_a_large_report_unchanged() -> None:
    result = many_findings(2000)
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=None,
        commit_sha=None,
        ref=None,
    )
    [run] = document["runs"]
    assert len(run["results"]) == 2000
    assert notifications(run) == []


def test_a_vulnerable_dependency_is_one_result_listing_its_advisories(tmp_path: Path) -> None:
    # given: the dependencies analyzer on django 3.2.0 with the PyPA records
    (tmp_path / "requirements.txt").write_text("django==3.2.0\n")
    index, errors = MemoryAdvisoryIndex.load(fixture_data("osv-pypa"))
    assert errors == []
    result = DependenciesAnalyzer(index).run(
        AnalyzerContext(root=tmp_path, files=["requirements.txt"])
    )

    # when
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=REPOSITORY,
        commit_sha=COMMIT,
        ref="refs/heads/main",
    )

    # then: valid, one rule for the finding, the advisories in its message and properties
    assert_schema_valid(document)
    (run,) = document["runs"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        "SP-DEP-VULNERABLE",
        "SP-DEP-UNPINNED",
    ]
    (sarif_result,) = run["results"]
    assert sarif_result["ruleId"] == "SP-DEP-VULNERABLE"
    assert sarif_result["level"] == "error"
    assert sarif_result["message"]["text"].startswith(
        "upgrade django 3.2.0 → 3.2.25 fixes 25 advisories: PYSEC-2021-7, PYSEC-2021-8, "
    )
    properties = sarif_result["properties"]
    assert properties["security-severity"] == "8.0"
    assert properties["upgrade_to"] == "3.2.25"
    assert len(properties["advisories"]) == properties["advisory_count"] == 25
    assert {
        key: properties["advisories"][2][key] for key in ("id", "aliases", "fixed_versions", "url")
    } == {
        "id": "PYSEC-2021-98",
        "aliases": ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm"],
        "fixed_versions": ["2.2.24", "3.1.12", "3.2.4"],
        "url": "https://github.com/advisories/GHSA-68w8-qjq3-2gfm",
    }
    assert sarif_result["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1,
        "endLine": 1,
    }


def test_weaknesses_are_cwe_taxa_of_rules_and_results() -> None:
    rule = Rule(
        id="python-sqli-request-data",
        name="python-sqli-request-data",
        short_description="SQL built from request data",
        help_text="Pass values as query parameters.",
        default_severity="high",
        tags=("security", "family:sql-injection", "CWE-89", "taint:request"),
    )
    result = AnalyzerResult(
        tool="semgrep",
        tool_version="1.187.0",
        rules=[rule, Rule(id="no-cwe", name="no-cwe", short_description="Plain.")],
        findings=[
            finding(
                "python-sqli-request-data",
                "high",
                "app/views.py",
                12,
                "Request data reaches an SQL statement as text.",
                'cursor.execute("SELECT %s" % name)',
                cwe=["CWE-89"],
            ),
            finding("no-cwe", "low", "app/views.py", 20, "Plain.", "x = 1"),
        ],
    )
    document = build_sarif(
        [sarif_run(result)],
        automation_id=AUTOMATION_ID,
        repository_uri=REPOSITORY,
        commit_sha=COMMIT,
        ref="refs/heads/main",
    )
    assert_schema_valid(document)
    (run,) = document["runs"]
    (taxonomy,) = run["taxonomies"]
    assert taxonomy["name"] == "CWE"
    assert [taxon["id"] for taxon in taxonomy["taxa"]] == ["89"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["python-sqli-request-data"]["relationships"] == [
        {"target": {"id": "89", "toolComponent": {"name": "CWE"}}, "kinds": ["superset"]}
    ]
    assert "CWE-89" in rules["python-sqli-request-data"]["properties"]["tags"]
    assert "relationships" not in rules["no-cwe"]
    by_rule = {result["ruleId"]: result for result in run["results"]}
    assert by_rule["python-sqli-request-data"]["taxa"] == [
        {"id": "89", "toolComponent": {"name": "CWE"}}
    ]
    assert "taxa" not in by_rule["no-cwe"]
