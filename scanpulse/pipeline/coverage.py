"""Whether a scan looked at everything, and the gate verdict built on it.

A scan is *complete* when every analyzer ran, no file was skipped or only partly analyzed, and
every dependency manifest found was checked. Each exception is a *gap*: a plain dict
``{"analyzer", "path", "kind", "reason"}`` that the scan's summary keeps and the API shows.
The gate (``scanpulse scan --fail-on``, ``GET /api/scans/{id}/gate``) fails an incomplete scan
unless the caller allows it; both compute their verdict here. No Django: the command line
imports this module in remote mode too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanpulse.analyzers.base import SEVERITIES, AnalyzerResult, Gap

# The severities a gate can fail on, most severe first: all but info.
GATE_SEVERITIES = tuple(severity for severity in SEVERITIES if severity != "info")

# Kinds of gap, in the order they are described. "error" is a problem an analyzer reported that
# none of its gaps explains; "analyzer_failed" has no path.
GAP_KINDS = ("analyzer_failed", "skipped", "partial", "not_checked", "error")
_KIND_PHRASES = {
    "skipped": ("file skipped", "files skipped"),
    "partial": ("file partly analyzed", "files partly analyzed"),
    "not_checked": ("manifest not checked", "manifests not checked"),
    "error": ("other problem", "other problems"),
}
# How each kind reads next to a file, in logs, pages and the command line.
GAP_LABELS = {
    "analyzer_failed": "failed",
    "skipped": "skipped",
    "partial": "partly analyzed",
    "not_checked": "not checked",
    "error": "problem",
}
# What a scan's summary keeps of its gaps (all are counted).
KEPT_GAPS = 100


def gap_label(kind: object) -> str:
    return GAP_LABELS.get(str(kind), str(kind))


def _gap(analyzer: str | None, path: str | None, kind: str, reason: str) -> dict[str, Any]:
    return {"analyzer": analyzer, "path": path, "kind": kind, "reason": reason}


def _explained(error: str, paths: set[str]) -> bool:
    """Whether ``error`` ("path: …" or "path:12: …") is about a file that has a gap."""
    index = error.find(":")
    while index != -1:
        if error[:index] in paths:
            return True
        index = error.find(":", index + 1)
    return False


def analyzer_gaps(tool: str, result: AnalyzerResult, *, failed: bool) -> list[dict[str, Any]]:
    """The gaps of one analyzer's run: the run itself when it failed, else its gaps plus every
    error that none of them explains."""
    if failed:
        return [_gap(tool, None, "analyzer_failed", "; ".join(result.errors) or "no reason given")]
    gaps = [_gap(tool, gap.path, gap.kind, gap.reason) for gap in result.gaps]
    paths = {gap.path for gap in result.gaps}
    gaps += [
        _gap(tool, None, "error", error) for error in result.errors if not _explained(error, paths)
    ]
    return gaps


def discovery_gaps(skipped: Iterable[Gap]) -> list[dict[str, Any]]:
    """Files left out before any analyzer ran (too large, special files, …)."""
    return [_gap(None, gap.path, gap.kind, gap.reason) for gap in skipped]


def gap_counts(gaps: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Per kind: how many analyzers failed, files were skipped, … A file with several gaps of
    one analyzer counts once, under the most serious kind (in ``GAP_KINDS`` order)."""
    counts: Counter[str] = Counter()
    worst: dict[tuple[Any, Any], str] = {}
    for gap in gaps:
        kind = str(gap.get("kind"))
        if gap.get("path") is None or kind not in GAP_KINDS:
            counts[kind] += 1
            continue
        key = (gap.get("analyzer"), gap.get("path"))
        if key not in worst or GAP_KINDS.index(kind) < GAP_KINDS.index(worst[key]):
            worst[key] = kind
    counts.update(worst.values())
    return {kind: counts[kind] for kind in GAP_KINDS if counts[kind]}


def describe_gaps(counts: Mapping[str, int], failed: Sequence[str] = ()) -> str:
    """``"analyzer secrets failed; 1 file partly analyzed; 2 manifests not checked"``."""
    parts = [f"analyzer {name} failed" for name in failed]
    for kind, (one, many) in _KIND_PHRASES.items():
        number = int(counts.get(kind, 0))
        if number:
            parts.append(f"{number} {one if number == 1 else many}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a finished scan's summary says about its completeness."""

    complete: bool
    gaps: list[dict[str, Any]] = field(default_factory=list)  # the first KEPT_GAPS
    counts: dict[str, int] = field(default_factory=dict)  # see gap_counts, over every gap
    failed: list[str] = field(default_factory=list)  # analyzers that failed
    total: int = 0  # gaps in all

    def describe(self) -> str:
        return describe_gaps(self.counts, self.failed)

    def file_gaps(self) -> list[dict[str, Any]]:
        """The kept gaps about files and problems, failed analyzers aside (they are named)."""
        return [gap for gap in self.gaps if gap.get("kind") != "analyzer_failed"]

    def hidden(self, shown: int) -> int:
        """How many gaps, failed analyzers aside, are not among the ``shown`` first ones."""
        return max(0, self.total - self.counts.get("analyzer_failed", 0) - shown)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any] | None) -> Coverage:
        """Read from a scan's summary. A summary written before scans recorded their gaps
        knows only failed analyzers: such a scan is complete when none failed."""
        summary = summary if isinstance(summary, Mapping) else {}
        analyzers = summary.get("analyzers")
        analyzers = analyzers if isinstance(analyzers, Mapping) else {}
        failed = [
            str(name)
            for name, info in analyzers.items()
            if isinstance(info, Mapping) and info.get("outcome") == "failed"
        ]
        raw_gaps = summary.get("gaps")
        gaps = [dict(gap) for gap in raw_gaps if isinstance(gap, Mapping)] if raw_gaps else []
        raw_counts = summary.get("gap_counts")
        if isinstance(raw_counts, Mapping):
            counts = {str(kind): int(n) for kind, n in raw_counts.items() if isinstance(n, int)}
        else:
            counts = gap_counts(gaps)
            if failed and not counts.get("analyzer_failed"):
                counts["analyzer_failed"] = len(failed)
        total = summary.get("gap_total")
        if not isinstance(total, int):
            total = max(len(gaps), counts.get("analyzer_failed", 0))
        complete = summary.get("complete")
        if not isinstance(complete, bool):
            complete = not failed and not counts
        return cls(complete=complete, gaps=gaps, counts=counts, failed=failed, total=total)


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """When a scan passes: no finding at or above ``fail_on`` (only ``new`` ones with
    ``new_only``; ``info`` and dismissed findings never count), and a complete scan unless
    ``allow_incomplete``."""

    fail_on: str | None = None
    new_only: bool = False
    allow_incomplete: bool = False

    def counts(self, finding: Mapping[str, Any]) -> bool:
        """Whether one finding (as the API shows it) counts against the gate."""
        if self.fail_on is None or finding.get("status") == "fixed":
            return False
        if finding.get("dismissed_reason"):
            return False
        if self.new_only and finding.get("status") != "new":
            return False
        limit = GATE_SEVERITIES.index(self.fail_on)
        return finding.get("severity") in GATE_SEVERITIES[: limit + 1]

    def severities(self) -> tuple[str, ...]:
        """The severities that count, most severe first (none without ``fail_on``)."""
        if self.fail_on is None:
            return ()
        return GATE_SEVERITIES[: GATE_SEVERITIES.index(self.fail_on) + 1]


@dataclass(frozen=True, slots=True)
class GateVerdict:
    passed: bool
    matching: int  # findings that count against the gate
    complete: bool
    reasons: list[str]  # why it failed, one sentence each; empty when it passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "matching": self.matching,
            "complete": self.complete,
            "reasons": list(self.reasons),
        }


def gate_verdict(
    policy: GatePolicy, *, status: str, coverage: Coverage, matching: int
) -> GateVerdict:
    """The verdict on a finished scan: only a completed scan can pass."""
    if status != "completed":
        return GateVerdict(False, 0, False, [f"the scan {status}"])
    reasons = []
    if matching:
        scope = "new findings" if policy.new_only else "findings"
        if matching == 1:
            scope = scope[:-1]
        reasons.append(f"{matching} {scope} at or above {policy.fail_on}")
    if not coverage.complete and not policy.allow_incomplete:
        reasons.append(f"the scan is incomplete: {coverage.describe() or 'see its gaps'}")
    return GateVerdict(not reasons, matching, coverage.complete, reasons)
