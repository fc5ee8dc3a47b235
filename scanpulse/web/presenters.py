"""What the pages show about a scan, computed once here instead of in templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanpulse.analyzers.dependencies.analyzer import NO_DATABASE_NOTE
from scanpulse.pipeline.coverage import Coverage, gap_label
from scanpulse.scans.models import Scan, ScanStatus

GAPS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class GapReport:
    label: str
    analyzer: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class AnalyzerReport:
    name: str
    failed: bool
    findings: int
    files: int
    seconds: float | None
    notes: list[str]
    errors: list[str]
    error_count: int


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """A finished scan's summary: counts, analyzers, and the notices a user must not miss."""

    new: int | None
    unchanged: int | None
    fixed: int | None
    analyzers: list[AnalyzerReport] = field(default_factory=list)
    failed_analyzers: list[AnalyzerReport] = field(default_factory=list)
    advisories_missing: bool = False
    complete: bool = True
    incomplete_summary: str = ""  # "1 file partly analyzed; 2 manifests not checked"
    gaps: list[GapReport] = field(default_factory=list)  # the first GAPS_SHOWN, failures aside
    gaps_hidden: int = 0


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scan_outcome(scan: Scan) -> ScanOutcome:
    summary = scan.summary if isinstance(scan.summary, dict) else {}
    analyzers: list[AnalyzerReport] = []
    raw_analyzers = summary.get("analyzers")
    for name, info in (raw_analyzers if isinstance(raw_analyzers, dict) else {}).items():
        if not isinstance(info, dict):
            continue
        seconds = info.get("seconds")
        analyzers.append(
            AnalyzerReport(
                name=str(name),
                failed=info.get("outcome") == "failed",
                findings=_int(info.get("findings")) or 0,
                files=_int(info.get("files")) or 0,
                seconds=float(seconds) if isinstance(seconds, int | float) else None,
                notes=[str(note) for note in info.get("notes") or []],
                errors=[str(error) for error in info.get("errors") or []],
                error_count=_int(info.get("error_count")) or 0,
            )
        )
    coverage = Coverage.from_summary(summary)
    others = {kind: n for kind, n in coverage.counts.items() if kind != "analyzer_failed"}
    gaps = [
        GapReport(
            label=gap_label(gap.get("kind")),
            analyzer=str(gap.get("analyzer") or ""),
            path=str(gap.get("path") or ""),
            reason=str(gap.get("reason") or ""),
        )
        for gap in coverage.file_gaps()[:GAPS_SHOWN]
    ]
    return ScanOutcome(
        complete=coverage.complete,
        incomplete_summary=Coverage(False, counts=others).describe(),
        gaps=gaps,
        gaps_hidden=coverage.hidden(len(gaps)),
        new=_int(summary.get("new")),
        unchanged=_int(summary.get("unchanged")),
        fixed=_int(summary.get("fixed")),
        analyzers=analyzers,
        failed_analyzers=[report for report in analyzers if report.failed],
        advisories_missing=any(NO_DATABASE_NOTE in report.notes for report in analyzers),
    )


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One line of a project's scan history."""

    scan: Scan
    duration: float | None
    new: int | None
    fixed: int | None


def scan_duration(scan: Scan) -> float | None:
    if scan.started_at is None or scan.finished_at is None:
        return None
    return max(0.0, (scan.finished_at - scan.started_at).total_seconds())


def scan_row(scan: Scan) -> ScanRow:
    summary = scan.summary if isinstance(scan.summary, dict) else {}
    completed = scan.status == ScanStatus.COMPLETED
    return ScanRow(
        scan=scan,
        duration=scan_duration(scan),
        new=_int(summary.get("new")) if completed else None,
        fixed=_int(summary.get("fixed")) if completed else None,
    )


# What a finished scan's step reads: its outcome, never the step it was in when it ended.
TERMINAL_STEPS = {
    ScanStatus.COMPLETED: "Done",
    ScanStatus.FAILED: "Failed",
    ScanStatus.CANCELLED: "Cancelled",
}


def scan_step(scan: Scan) -> str:
    """The scan's current step as the pages show it (``live.js`` words it the same way)."""
    if scan.status in TERMINAL_STEPS:
        return TERMINAL_STEPS[ScanStatus(scan.status)]
    if scan.step:
        return scan.step
    return "Starting" if scan.status == ScanStatus.RUNNING else "Waiting for a worker"
