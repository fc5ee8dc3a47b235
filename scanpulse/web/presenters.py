"""What the pages show about a scan, computed once here instead of in templates."""

from __future__ import annotations

from dataclasses import dataclass, field

from scanpulse.analyzers.dependencies.analyzer import NO_DATABASE_NOTE
from scanpulse.pipeline.config_summary import ConfigSummary
from scanpulse.pipeline.coverage import Coverage, gap_label
from scanpulse.scans.models import Scan, ScanStatus
from scanpulse.scans.summary import ScanSummary

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
    excluded: int = 0  # no longer reported and not fixed: excluded by the configuration
    not_checked: int = 0  # ... not looked for (an analyzer failed, a file not fully read)
    superseded: int = 0  # ... grouped into one dependency finding per package version
    analyzers: list[AnalyzerReport] = field(default_factory=list)
    failed_analyzers: list[AnalyzerReport] = field(default_factory=list)
    advisories_missing: bool = False
    complete: bool = True
    incomplete_summary: str = ""  # "1 file partly analyzed; 2 manifests not checked"
    gaps: list[GapReport] = field(default_factory=list)  # the first GAPS_SHOWN, failures aside
    gaps_hidden: int = 0
    config: ConfigSummary = field(default_factory=ConfigSummary)  # what the configuration did


def scan_outcome(scan: Scan) -> ScanOutcome:
    summary = ScanSummary.from_json(scan.summary)
    analyzers = [
        AnalyzerReport(
            name=name,
            failed=info.failed,
            findings=info.findings,
            files=info.files,
            seconds=info.seconds,
            notes=info.notes,
            errors=info.errors,
            error_count=info.error_count,
        )
        for name, info in (summary.analyzers if summary else {}).items()
    ]
    coverage = summary.coverage if summary else Coverage.from_summary(None)
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
        new=summary.new if summary else None,
        unchanged=summary.unchanged if summary else None,
        fixed=summary.fixed if summary else None,
        excluded=summary.excluded if summary else 0,
        not_checked=summary.not_checked if summary else 0,
        superseded=summary.superseded if summary else 0,
        analyzers=analyzers,
        failed_analyzers=[report for report in analyzers if report.failed],
        advisories_missing=any(NO_DATABASE_NOTE in report.notes for report in analyzers),
        config=summary.config if summary else ConfigSummary(),
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
    summary = ScanSummary.from_json(scan.summary) if scan.status == ScanStatus.COMPLETED else None
    return ScanRow(
        scan=scan,
        duration=scan_duration(scan),
        new=summary.new if summary else None,
        fixed=summary.fixed if summary else None,
    )


# What a finished scan's step reads: its outcome, never the step it was in when it ended
# (one for each of TERMINAL_STATUSES; live.js gets them from the page).
TERMINAL_STEPS = {
    ScanStatus.COMPLETED: "Done",
    ScanStatus.FAILED: "Failed",
    ScanStatus.CANCELLED: "Cancelled",
}


def scan_step(scan: Scan) -> str:
    """The scan's current step as the pages show it (``live.js`` words it the same way)."""
    if scan.is_terminal:
        return TERMINAL_STEPS[ScanStatus(scan.status)]
    if scan.step:
        return scan.step
    return "Starting" if scan.status == ScanStatus.RUNNING else "Waiting for a worker"
