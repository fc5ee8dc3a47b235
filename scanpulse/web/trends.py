"""A project's trend: its open alerts by severity over its last completed scans of one ref,
and what each scan found new and fixed, drawn as a small server-rendered SVG bar chart (no
script, no inline style: the page's CSP holds) with the same figures as a table.

The figures are those each scan stored in its summary: open findings per severity (those the
project had dismissed when the scan ran are not counted), new and fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanpulse.analyzers.base import SEVERITIES
from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan, ScanStatus
from scanpulse.scans.selectors import scan_list
from scanpulse.scans.summary import ScanSummary
from scanpulse.tenancy.types import User

TREND_SCANS = 20
CHART_HEIGHT = 120  # the tallest bar, in the SVG's units
BAR_WIDTH = 18
BAR_GAP = 6


@dataclass(frozen=True, slots=True)
class Segment:
    severity: str
    count: int
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class TrendBar:
    scan: Scan
    x: int
    total: int
    new: int
    fixed: int
    counts: dict[str, int]
    segments: list[Segment]

    @property
    def by_severity(self) -> list[int]:
        return [self.counts.get(severity, 0) for severity in SEVERITIES]

    @property
    def label(self) -> str:
        parts = [f"{count} {sev}" for sev, count in self.counts.items() if count]
        return (
            f"Scan {str(self.scan.pk)[:8]}: {self.total} open"
            + (f" ({', '.join(parts)})" if parts else "")
            + f"; {self.new} new, {self.fixed} fixed"
        )


@dataclass(frozen=True, slots=True)
class Trend:
    ref: str
    bars: list[TrendBar]
    width: int
    height: int
    severities: tuple[str, ...] = SEVERITIES

    @property
    def description(self) -> str:
        first, last = self.bars[0], self.bars[-1]
        return (
            f"Open alerts over the last {len(self.bars)} completed scans of {self.ref}: "
            f"{first.total} then, {last.total} now."
        )


def _trend_ref(user: User, project: Project) -> str | None:
    completed = scan_list(user=user, project_id=project.id, status=ScanStatus.COMPLETED)
    if completed.filter(ref=project.default_branch).exists():
        return project.default_branch
    newest = completed.first()
    return newest.ref if newest is not None else None


def project_trend(*, user: User, project: Project) -> Trend | None:
    """The trend of the project's default branch (or, without a completed scan of it, of the
    ref of its newest completed scan); None before any scan completed."""
    ref = _trend_ref(user, project)
    if ref is None:
        return None
    scans = list(
        scan_list(user=user, project_id=project.id, status=ScanStatus.COMPLETED).filter(ref=ref)[
            :TREND_SCANS
        ]
    )
    scans.reverse()  # oldest first, left to right
    summaries = [ScanSummary.from_json(scan.summary) for scan in scans]
    counts: list[dict[str, int]] = [
        {
            severity: int(summary.severity.get(severity, 0)) if summary else 0
            for severity in SEVERITIES
        }
        for summary in summaries
    ]
    tallest = max((sum(c.values()) for c in counts), default=0) or 1
    bars = []
    for index, (scan, summary, count) in enumerate(zip(scans, summaries, counts, strict=True)):
        bottom = float(CHART_HEIGHT)
        segments = []
        for severity in reversed(SEVERITIES):  # info at the bottom, critical on top
            if not count[severity]:
                continue
            height = count[severity] / tallest * CHART_HEIGHT
            bottom -= height
            segments.append(Segment(severity, count[severity], round(bottom, 2), round(height, 2)))
        bars.append(
            TrendBar(
                scan=scan,
                x=index * (BAR_WIDTH + BAR_GAP),
                total=sum(count.values()),
                new=summary.new if summary else 0,
                fixed=summary.fixed if summary else 0,
                counts=count,
                segments=segments,
            )
        )
    width = max(len(bars) * (BAR_WIDTH + BAR_GAP) - BAR_GAP, BAR_WIDTH)
    return Trend(ref=ref, bars=bars, width=width, height=CHART_HEIGHT)
