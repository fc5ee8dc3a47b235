"""A scan's results as database rows: its findings (this scan's, then those fixed since the
last), its analyzer runs and its dependency inventory, built lazily from the pipeline's output
so that they are written in batches; and what the alerts sync is told of each finding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanpulse.alerts.selectors import Suppression
from scanpulse.alerts.sync import Detected
from scanpulse.core.text import storable
from scanpulse.pipeline.classification import Classification
from scanpulse.pipeline.run import PipelineOutput

from .models import AnalyzerRun, Finding, FindingStatus, InventoryItem, Scan

# Findings per insert (and per look at the cancel flag while reading or writing them): a
# cancel request is honoured within a fraction of a second however many findings there are.
SAVE_BATCH = 1000


def inventory_rows(scan: Scan, output: PipelineOutput) -> Iterator[InventoryItem]:
    """The scan's dependency inventory as the analyzers handed it out (plain data)."""
    seen: set[tuple[str, str, str, str]] = set()
    for outcome in output.outcomes:
        if outcome.failed:
            continue
        for item in outcome.result.inventory:
            row = InventoryItem(
                scan=scan,
                ecosystem=storable(str(item["ecosystem"])[:50]),
                name=storable(str(item["name"])[:300]),
                version=storable(str(item["version"])[:200]),
                path=storable(str(item["path"])[:1024]),
                line=item.get("line") if isinstance(item.get("line"), int) else None,
                direct=bool(item.get("direct")),
            )
            key = (row.path, row.ecosystem, row.name, row.version)
            if key not in seen:
                seen.add(key)
                yield row


def detected_of(row: dict[str, Any], groups: dict[str, dict[str, tuple[str, ...]]]) -> Detected:
    return Detected(
        fingerprint=row["fingerprint"],
        tool=row["tool"],
        rule_id=row["rule_id"],
        severity=row["severity"],
        path=row["path"],
        start_line=row["start_line"],
        end_line=row["end_line"],
        message=row["message"],
        pre_grouping=groups.get(row["fingerprint"], {}),
    )


def analyzer_runs(scan: Scan, output: PipelineOutput) -> Iterator[AnalyzerRun]:
    for outcome in output.outcomes:
        yield AnalyzerRun(
            scan=scan,
            tool=outcome.tool,
            tool_version=outcome.result.tool_version[:100],
            outcome=AnalyzerRun.Outcome.FAILED if outcome.failed else AnalyzerRun.Outcome.SUCCEEDED,
            rules=storable([rule.to_dict() for rule in outcome.result.rules]),
            errors=storable(outcome.result.errors[:1000]),
            notes=storable(outcome.result.notes),
            files_analyzed=outcome.result.files_analyzed,
            started_at=outcome.started,
            finished_at=outcome.finished,
        )


def finding_rows(
    scan: Scan,
    output: PipelineOutput,
    classification: Classification,
    previous: dict[str, Finding],
    dismissed: dict[str, Suppression],
) -> Iterator[dict[str, Any]]:
    """The scan's findings as rows (``Finding`` field values), in order: this scan's, then
    those fixed since the last."""

    def dismissed_reason(fingerprint: str) -> str | None:
        suppression = dismissed.get(fingerprint)
        return None if suppression is None else suppression.reason

    position = 0
    statuses = iter(classification.statuses)
    for outcome in output.outcomes:
        excerpts = outcome.excerpts or [None] * len(outcome.result.findings)
        for finding, fingerprint, occurrence, excerpt in zip(
            outcome.result.findings,
            outcome.fingerprints,
            outcome.occurrences,
            excerpts,
            strict=True,
        ):
            extra = {"occurrence": occurrence} | ({"excerpt": excerpt} if excerpt else {})
            yield {
                "scan_id": scan.pk,
                "tool": outcome.tool,
                "rule_id": storable(finding.rule_id[:200]),
                "severity": finding.severity,
                "confidence": finding.confidence,
                "path": storable(finding.path[:1024]),
                "start_line": finding.start_line,
                "end_line": finding.end_line,
                "message": storable(finding.message),
                "fingerprint": fingerprint,
                "status": next(statuses),
                "dismissed_reason": dismissed_reason(fingerprint),
                "properties": storable({**finding.properties, **extra}),
                "position": position,
            }
            position += 1
    for fingerprint in classification.fixed:
        gone = previous[fingerprint]
        yield {
            "scan_id": scan.pk,
            "tool": gone.tool,
            "rule_id": gone.rule_id,
            "severity": gone.severity,
            "confidence": gone.confidence,
            "path": gone.path,
            "start_line": gone.start_line,
            "end_line": gone.end_line,
            "message": gone.message,
            "fingerprint": gone.fingerprint,
            "status": FindingStatus.FIXED,
            "dismissed_reason": dismissed_reason(gone.fingerprint),
            "properties": gone.properties,
            "position": position,
        }
        position += 1
