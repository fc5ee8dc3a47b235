"""The data migration (and the command) that scrub secrets stored before findings were
redacted: nothing of them is left anywhere, and the next scan sees the same findings unchanged."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.pipeline.fingerprints import assign_fingerprints, primary_location_line_hash
from scanpulse.scans.models import AnalysisCacheEntry, Finding, Scan, ScanReport
from tests.scans.conftest import (
    CLEAR_SECRETS,
    everything_shown_and_stored,
    start_scan,
    wait_for_scan,
)
from tests.support.repos import vulnerable_repo

pytestmark = pytest.mark.django_db(transaction=True)

AWS_KEY, PASSWORD = CLEAR_SECRETS
# The secrets of the vulnerable repository, by line, and the line bandit flags.
SECRETS_BY_LINE = {3: AWS_KEY, 4: PASSWORD}
PASSWORD_LINE = 'password = "hunter2"'


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - what was stored before


def _old_mask(secret: str) -> str:
    return (
        "*" * len(secret)
        if len(secret) < 12
        else secret[:4] + "*" * (len(secret) - 8) + secret[-4:]
    )


def _old_fingerprint(tool: str, row: Finding, snippet: str) -> str:
    finding = AnalyzerFinding(
        rule_id=row.rule_id,
        severity="high",
        confidence="high",
        path=row.path,
        start_line=row.start_line,
        end_line=row.end_line,
        message="",
        snippet=snippet,
    )
    return assign_fingerprints(tool, [finding])[0]


def _as_stored_before(scan: Scan) -> None:
    """Turn a scan's secret findings and its report into what earlier versions stored: the
    passwords bandit quoted, detect-secrets' SHA-1, the old mask and the fingerprints built
    from them."""
    old: dict[str, dict[str, Any]] = {}
    for row in scan.findings.all():
        if "secret_id" not in row.properties:
            continue
        assert row.properties["occurrence"] == 0  # what _old_fingerprint computes
        value = SECRETS_BY_LINE[row.start_line]
        properties = {
            name: item
            for name, item in row.properties.items()
            if name not in ("secret_id", "masked_secret", "occurrence")
        }
        if row.tool == "secrets":
            properties.update(secret_hash=_sha1(value), masked_secret=_old_mask(value))
            snippet, message = _sha1(value), row.message
        else:
            snippet, message = PASSWORD_LINE, f"Possible hardcoded password: '{value}'"
        old[row.fingerprint] = {
            "fingerprint": _old_fingerprint(row.tool, row, snippet),
            "message": message,
            "properties": properties,
            "line_hash": primary_location_line_hash(snippet, 0),
        }
        row.message, row.fingerprint = message, old[row.fingerprint]["fingerprint"]
        row.properties = {**properties, "occurrence": 0}
        row.save()

    report = ScanReport.objects.get(scan=scan)
    document = json.loads(gzip.decompress(bytes(report.sarif_gzip)))
    for run in document["runs"]:
        for result in run["results"]:
            before = old.get(result["fingerprints"]["scanpulse/v1"])
            if before is None:
                continue
            result["message"]["text"] = before["message"]
            result["fingerprints"]["scanpulse/v1"] = before["fingerprint"]
            result["partialFingerprints"]["primaryLocationLineHash"] = before["line_hash"]
            levels = ("severity", "confidence", "security-severity")
            result["properties"] = {
                # a report never carried the code excerpt its rows keep
                **{name: item for name, item in before["properties"].items() if name != "excerpt"},
                **{name: result["properties"][name] for name in levels},
            }
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    report.sarif_gzip = gzip.compress(text.encode())
    report.size = len(text)
    report.save()


def _old_cache_entries() -> dict[str, list[dict[str, Any]]]:
    rule = {"id": "B105", "name": "hardcoded_password_string", "short_description": "x"}
    finding = {
        "severity": "low",
        "confidence": "medium",
        "start_line": 4,
        "end_line": 4,
        "properties": {"cwe": 259},
    }
    return {
        "1" * 64: [
            {
                **finding,
                "rule_id": "B105",
                "message": f"Possible hardcoded password: '{PASSWORD}'",
                "snippet": PASSWORD_LINE,
                "rule": rule,
            }
        ],
        "2" * 64: [
            {
                **finding,
                "rule_id": "aws-access-key",
                "message": "AWS Access Key in app.py on line 3",
                "snippet": _sha1(AWS_KEY),
                "properties": {
                    "secret_type": "AWS Access Key",
                    "secret_hash": _sha1(AWS_KEY),
                    "masked_secret": _old_mask(AWS_KEY),
                },
                "rule": {**rule, "id": "aws-access-key"},
            }
        ],
        "3" * 64: [
            {
                **finding,
                "rule_id": "B602",
                "message": "subprocess call with shell=True identified",
                "snippet": "return subprocess.call(cmd, shell=True)",
                "rule": {**rule, "id": "B602"},
            }
        ],
    }


def _migrate_through_redaction() -> None:
    """Unapply the redaction migration and apply it again, then everything after it."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    [redaction] = [node for node in graph.nodes if node[1].endswith("_redact_secrets")]
    [before] = [node for node in graph.node_map[redaction].parents if node[0] == "scans"]
    try:
        executor.migrate([before])
        executor = MigrationExecutor(connection)
        executor.migrate([redaction])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _run_the_command() -> None:
    first, again = io.StringIO(), io.StringIO()
    call_command("scrub_secrets", stdout=first)
    call_command("scrub_secrets", stdout=again)
    assert first.getvalue().strip() == (
        "Findings scrubbed: 3, SARIF reports rewritten: 1, cache entries deleted: 2."
    )
    assert again.getvalue().strip() == (
        "Findings scrubbed: 0, SARIF reports rewritten: 0, cache entries deleted: 0."
    )


@pytest.mark.parametrize(
    "upgrade", [_migrate_through_redaction, _run_the_command], ids=["migration", "command"]
)
def test_stored_secrets_are_scrubbed_and_keep_their_identity(
    tenant, tmp_path, upgrade: Callable[[], None]
) -> None:
    # given: a scan as earlier versions stored it, and their cache entries
    repo = vulnerable_repo(tmp_path / "repo")
    scan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    assert scan.status == "completed", scan.error_message
    expected_rows = {
        row.pk: (row.message, row.properties, row.fingerprint) for row in scan.findings.all()
    }
    expected_report = json.loads(gzip.decompress(bytes(scan.report.sarif_gzip)))
    _as_stored_before(scan)
    AnalysisCacheEntry.objects.all().delete()
    for key, payload in _old_cache_entries().items():
        AnalysisCacheEntry.objects.create(key=key, payload=payload)
    stored = json.dumps(list(Finding.objects.values("message", "properties")))
    assert PASSWORD in stored and _sha1(AWS_KEY) in stored  # the test starts from the defect

    # when
    upgrade()

    # then: nothing in clear, the rows and report as a scan writes them now
    for place, text in everything_shown_and_stored(tenant, scan.id).items():
        leaked = [secret for secret in (*CLEAR_SECRETS, _sha1(AWS_KEY)) if secret in text]
        assert not leaked, f"{leaked} in the {place}"
    assert {
        row.pk: (row.message, row.properties, row.fingerprint) for row in scan.findings.all()
    } == expected_rows
    report = ScanReport.objects.get(scan=scan)
    text = gzip.decompress(bytes(report.sarif_gzip))
    assert json.loads(text) == expected_report and report.size == len(text)
    assert list(AnalysisCacheEntry.objects.values_list("key", flat=True)) == ["3" * 64]

    # and the first scan after the upgrade sees the same findings, unchanged
    rescan = wait_for_scan(start_scan(tenant, repo.path)["id"])
    statuses = {(f.tool, f.rule_id, f.status) for f in rescan.findings.exclude(tool="dependencies")}
    assert statuses == {
        ("bandit", "B404", "unchanged"),
        ("bandit", "B105", "unchanged"),
        ("bandit", "B602", "unchanged"),
        ("secrets", "aws-access-key", "unchanged"),
        ("secrets", "secret-keyword", "unchanged"),
    }


def test_a_fixed_copy_of_the_same_password_gets_an_identity_of_its_own(tenant, tmp_path) -> None:
    # given: beside the scan's own finding, a fixed one carried over from the scan before, for
    # the same password on another line (a different finding while lines identified them)
    scan = wait_for_scan(start_scan(tenant, vulnerable_repo(tmp_path / "repo").path)["id"])
    current = scan.findings.get(rule_id="B105")
    expected = current.fingerprint
    _as_stored_before(scan)
    Finding.objects.create(
        scan=scan,
        tool="bandit",
        rule_id="B105",
        severity="low",
        confidence="medium",
        path="app.py",
        start_line=2,
        end_line=2,
        message=f"Possible hardcoded password: '{PASSWORD}'",
        fingerprint="f" * 32,
        status="fixed",
        properties={"cwe": 259, "occurrence": 0},
        position=99,
    )

    # when
    call_command("scrub_secrets", stdout=io.StringIO())

    # then: both redacted, the scan's own as a scan computes it, the fixed one after it
    rows = {row.status: row for row in scan.findings.filter(rule_id="B105")}
    assert rows["new"].fingerprint == expected
    assert rows["fixed"].fingerprint not in (expected, "f" * 32)
    assert [rows[status].properties["occurrence"] for status in ("new", "fixed")] == [0, 1]
    assert {row.message for row in rows.values()} == {"Possible hardcoded password: ********"}


def test_a_report_that_cannot_be_rewritten_is_deleted_rather_than_kept_with_a_secret(
    tenant, tmp_path
) -> None:
    # given: a scan stored the old way whose report is not laid out as reports are written
    scan = wait_for_scan(start_scan(tenant, vulnerable_repo(tmp_path / "repo").path)["id"])
    _as_stored_before(scan)
    report = ScanReport.objects.get(scan=scan)
    document = json.loads(gzip.decompress(bytes(report.sarif_gzip)))
    text = json.dumps(document, indent=2)  # pretty-printed: keys no longer where expected
    assert PASSWORD in text
    report.sarif_gzip = gzip.compress(text.encode())
    report.save()

    # when
    out = io.StringIO()
    call_command("scrub_secrets", stdout=out)

    # then: the findings are scrubbed, and no report holds the password any more
    assert out.getvalue().startswith("Findings scrubbed: 3,")
    assert not ScanReport.objects.filter(scan=scan).exists()
    for place, shown in everything_shown_and_stored(tenant, scan.id).items():
        assert PASSWORD not in shown, f"the password in the {place}"
