"""A completed scan's summary: what it found, what each analyzer did, what it did not look at.

It is stored on the scan as JSON (``Scan.summary``, shown as is by the API and in the scan's
terminal event) and read back here, in one place, as a ``ScanSummary``: the pages use its
fields and never look into the JSON themselves. A scan that did not complete has no summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scanpulse.analyzers.base import SEVERITIES
from scanpulse.core.text import storable
from scanpulse.pipeline.config_summary import ConfigSummary
from scanpulse.pipeline.coverage import KEPT_GAPS, Coverage, gap_counts
from scanpulse.pipeline.noise import LEFT_TO_RULE_PACK
from scanpulse.pipeline.run import PipelineOutput

from .models import FindingStatus


@dataclass(frozen=True, slots=True)
class AnalyzerSummary:
    """What one analyzer did in the scan."""

    failed: bool
    findings: int
    files: int
    errors: list[str]  # the first 20
    error_count: int
    notes: list[str]
    seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": "failed" if self.failed else "succeeded",
            "findings": self.findings,
            "files": self.files,
            "errors": self.errors,
            "error_count": self.error_count,
            "notes": self.notes,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalyzerSummary:
        seconds = data.get("seconds")
        return cls(
            failed=data.get("outcome") == "failed",
            findings=_count(data.get("findings")),
            files=_count(data.get("files")),
            errors=[str(error) for error in data.get("errors") or []],
            error_count=_count(data.get("error_count")),
            notes=[str(note) for note in data.get("notes") or []],
            seconds=float(seconds) if isinstance(seconds, int | float) else None,
        )


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """A completed scan's findings by change, its analyzers, and its coverage. ``new``,
    ``unchanged`` and ``severity`` count the open findings; those the project had dismissed are
    counted apart, in ``dismissed``."""

    new: int
    unchanged: int
    fixed: int
    analyzers: dict[str, AnalyzerSummary]
    coverage: Coverage  # whether the scan looked at everything; its gaps say what it did not
    commit_sha: str = ""
    files: int = 0
    skipped: tuple[str, ...] = ()  # the first 100 files skipped
    severity: dict[str, int] = field(default_factory=dict)  # findings per severity, each listed
    message: str = ""  # "3 new, 1 unchanged, 0 fixed findings." and what went wrong
    dismissed: int = 0  # findings of fingerprints the project had dismissed
    config: ConfigSummary = field(default_factory=ConfigSummary)
    # The branch the findings were compared with when it is not the scan's own ref (a pull
    # request's target, ``--base``, or the default branch for a ref's first scan); empty else.
    base_ref: str = ""
    # Whether the scan is of a pull request (or was given a base): its ``new`` findings are
    # then "new in this pull request".
    pull_request: bool = False

    @property
    def new_in_pull_request(self) -> int | None:
        """The findings this pull request brings (null for other scans)."""
        return self.new if self.pull_request and self.base_ref else None

    # Findings of the previous scan this one did not report, and not fixed (``pipeline.absence``
    # decides, for the alerts too): the configuration now excludes them (or turned their
    # analyzer off); the scan could not look for them (analyzer failed, file not fully read);
    # a grouped dependency finding now stands for them (one per advisory before).
    excluded: int = 0
    not_checked: int = 0
    superseded: int = 0

    @property
    def failed_analyzers(self) -> list[str]:
        return [name for name, analyzer in self.analyzers.items() if analyzer.failed]

    def to_json(self) -> dict[str, Any]:
        """The stored form (NUL characters replaced: every database can store it)."""
        return storable(
            {
                "complete": self.coverage.complete,
                "gaps": self.coverage.gaps,
                "gap_total": self.coverage.total,
                "gap_counts": self.coverage.counts,
                "commit_sha": self.commit_sha,
                "files": self.files,
                "skipped": list(self.skipped),
                "new": self.new,
                "unchanged": self.unchanged,
                "fixed": self.fixed,
                "dismissed": self.dismissed,
                "excluded": self.excluded,
                "not_checked": self.not_checked,
                "superseded": self.superseded,
                "severity": dict(self.severity),
                "analyzers": {
                    name: analyzer.to_json() for name, analyzer in self.analyzers.items()
                },
                "message": self.message,
                "config": self.config.to_json(),
                "base_ref": self.base_ref,
                "new_in_pull_request": self.new_in_pull_request,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ScanSummary | None:
        """The summary stored on a scan; None for a scan that did not complete (its summary
        is empty). Summaries of earlier releases may lack fields: they read as empty."""
        if not isinstance(data, Mapping) or not data:
            return None
        analyzers = data.get("analyzers")
        severity = data.get("severity")
        return cls(
            new=_count(data.get("new")),
            unchanged=_count(data.get("unchanged")),
            fixed=_count(data.get("fixed")),
            analyzers={
                str(name): AnalyzerSummary.from_json(info)
                for name, info in (analyzers if isinstance(analyzers, Mapping) else {}).items()
                if isinstance(info, Mapping)
            },
            coverage=Coverage.from_summary(data),
            commit_sha=str(data.get("commit_sha") or ""),
            files=_count(data.get("files")),
            skipped=tuple(str(path) for path in data.get("skipped") or []),
            severity=(
                {str(key): _count(n) for key, n in severity.items()}
                if isinstance(severity, Mapping)
                else {}
            ),
            message=str(data.get("message") or ""),
            dismissed=_count(data.get("dismissed")),
            config=ConfigSummary.from_json(data.get("config")),
            base_ref=str(data.get("base_ref") or ""),
            pull_request=data.get("new_in_pull_request") is not None,
            excluded=_count(data.get("excluded")),
            not_checked=_count(data.get("not_checked")),
            superseded=_count(data.get("superseded")),
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summarize(
    output: PipelineOutput,
    statuses: tuple[str, ...],
    *,
    fixed: int,
    dismissed: Collection[str] = frozenset(),
    excluded: int = 0,
    not_checked: int = 0,
    superseded: int = 0,
) -> ScanSummary:
    """The summary of a scan that produced ``output``, whose findings were classified as
    ``statuses`` (one per finding), where ``fixed`` findings of the previous scan are gone and
    the findings of ``dismissed`` fingerprints are counted apart."""
    fingerprints = [fp for outcome in output.outcomes for fp in outcome.fingerprints]
    open_ = [fp not in dismissed for fp in fingerprints]
    counts = Counter(status for status, is_open in zip(statuses, open_, strict=True) if is_open)
    findings = [finding for outcome in output.outcomes for finding in outcome.result.findings]
    severities: Counter[str] = Counter(
        finding.severity for finding, is_open in zip(findings, open_, strict=True) if is_open
    )
    gaps = output.gaps()
    summary = ScanSummary(
        new=counts.get(FindingStatus.NEW, 0),
        unchanged=counts.get(FindingStatus.UNCHANGED, 0),
        fixed=fixed,
        analyzers={
            outcome.tool: AnalyzerSummary(
                failed=outcome.failed,
                findings=len(outcome.result.findings),
                files=outcome.result.files_analyzed,
                errors=outcome.result.errors[:20],
                error_count=len(outcome.result.errors),
                notes=outcome.result.notes,
                seconds=round((outcome.finished - outcome.started).total_seconds(), 3),
            )
            for outcome in output.outcomes
        },
        coverage=Coverage(
            complete=not gaps,
            gaps=gaps[:KEPT_GAPS],
            counts=gap_counts(gaps),
            failed=[outcome.tool for outcome in output.outcomes if outcome.failed],
            total=len(gaps),
        ),
        commit_sha=output.commit_sha,
        files=output.files,
        skipped=tuple(output.skipped[:100]),
        severity={key: severities.get(key, 0) for key in SEVERITIES},
        dismissed=open_.count(False),
        config=ConfigSummary.of(output),
        excluded=excluded,
        not_checked=not_checked,
        superseded=superseded,
    )
    return _with_message(summary)


def _with_message(summary: ScanSummary) -> ScanSummary:
    failed = summary.failed_analyzers
    text = f"{summary.new} new, {summary.unchanged} unchanged, {summary.fixed} fixed findings."
    if summary.dismissed:
        text = f"{text[:-1]}; {summary.dismissed} dismissed."
    gone = [
        f"{summary.excluded} excluded by the configuration" if summary.excluded else "",
        f"{summary.not_checked} not checked by this scan" if summary.not_checked else "",
        f"{summary.superseded} grouped per package version" if summary.superseded else "",
    ]
    if any(gone):
        text += f" No longer reported, not fixed: {', '.join(g for g in gone if g)}."
    if failed:
        text += f" Analyzer{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed."
    others = {kind: n for kind, n in summary.coverage.counts.items() if kind != "analyzer_failed"}
    if others:
        text += f" Incomplete: {Coverage(False, counts=others).describe()}."
    left = sum(rule.findings for rule in summary.config.rules if LEFT_TO_RULE_PACK in rule.rule)
    if summary.config.removed - left:
        text += f" {summary.config.removed - left} removed by {summary.config.source}."
    if left:
        text += f" {left} of Bandit's findings left to the rule pack."
    return replace(summary, message=text)
