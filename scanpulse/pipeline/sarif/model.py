"""What a SARIF report is made from: the analyzer runs it describes, the limits GitHub code
scanning puts on an upload, and the fixed values of the format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from scanpulse.analyzers.base import AnalyzerFinding, AnalyzerResult, Rule
from scanpulse.pipeline.fingerprints import occurrence_indexes

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
# Versioned so that a future change of the fingerprint definition can ship under a new key.
FINGERPRINT_KEY = "scanpulse/v1"
SRCROOT = "%SRCROOT%"

SCANPULSE_INFORMATION_URI = "https://github.com/scanpulse/scanpulse"
# Keyed by ``AnalyzerResult.tool``; a tool missing here simply gets no ``informationUri``.
TOOL_INFORMATION_URIS: Mapping[str, str] = MappingProxyType(
    {
        "bandit": "https://bandit.readthedocs.io/",
        "secrets": "https://github.com/Yelp/detect-secrets",
        "dependencies": SCANPULSE_INFORMATION_URI,
    }
)

LEVELS: Mapping[str, str] = MappingProxyType(
    {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
)
# GitHub reads over 9.0 as critical, 7.0-8.9 high, 4.0-6.9 medium and 0.1-3.9 low; these are
# values well inside each band. Info gets none: any value makes GitHub treat the rule as a
# security rule, and 0.0 means "no security severity" anyway.
SECURITY_SEVERITIES: Mapping[str, str] = MappingProxyType(
    {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
)


@dataclass(frozen=True, slots=True)
class GitHubLimits:
    """What GitHub code scanning accepts in one SARIF upload (see docs/sarif.md for sources)."""

    runs_per_file: int = 20
    results_per_run: int = 25_000
    rules_per_run: int = 25_000
    tags_per_rule: int = 20
    gzip_bytes: int = 10_000_000
    rule_name_chars: int = 255
    description_chars: int = 1024

    def __post_init__(self) -> None:
        for limit in fields(self):
            if getattr(self, limit.name) < 1:
                raise ValueError(f"{limit.name} must be at least 1")


GITHUB_LIMITS = GitHubLimits()


@dataclass(frozen=True, slots=True)
class ReportedFinding:
    """One finding with its stable fingerprint and its index among identical findings, and,
    when the team dismissed it, why (reported as an accepted external suppression)."""

    finding: AnalyzerFinding
    fingerprint: str
    occurrence_index: int
    suppression: str | None = None  # the justification of a dismissed finding


@dataclass(frozen=True, slots=True)
class StreamedSarifRun:
    """One analyzer run whose findings are produced lazily, e.g. from a database cursor.

    At most ``GitHubLimits.results_per_run`` findings are held in memory at a time.
    """

    tool: str
    tool_version: str
    rules: Sequence[Rule]
    findings: Iterable[ReportedFinding]
    started: datetime
    finished: datetime
    succeeded: bool
    errors: Sequence[str] = ()
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        _require_aware(self.started, "started")
        _require_aware(self.finished, "finished")


@dataclass(frozen=True, slots=True)
class SarifRun:
    """One analyzer run held in memory: its result and the fingerprint of each finding."""

    result: AnalyzerResult
    fingerprints: Sequence[str]
    started: datetime
    finished: datetime
    succeeded: bool

    def __post_init__(self) -> None:
        if len(self.fingerprints) != len(self.result.findings):
            raise ValueError(
                f"{len(self.fingerprints)} fingerprints for {len(self.result.findings)} findings"
            )
        _require_aware(self.started, "started")
        _require_aware(self.finished, "finished")

    def as_streamed(self) -> StreamedSarifRun:
        findings = self.result.findings
        return StreamedSarifRun(
            tool=self.result.tool,
            tool_version=self.result.tool_version,
            rules=self.result.rules,
            findings=[
                ReportedFinding(finding, fp, index)
                for finding, fp, index in zip(
                    findings, self.fingerprints, occurrence_indexes(findings), strict=True
                )
            ],
            started=self.started,
            finished=self.finished,
            succeeded=self.succeeded,
            errors=self.result.errors,
            notes=self.result.notes,
        )


class TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


def automation_id_for(project: str, scan_id: str) -> str:
    """``scanpulse/<project>/<scan id>`` for ``runs[].automationDetails.id``.

    GitHub takes everything before the last ``/`` as the analysis category (here
    ``scanpulse/<project>``) and the rest as the run id. The ref stays out of the category on
    purpose: GitHub compares a pull request's results with the base branch's analysis of the
    same tool and category, and tracks alerts per branch by itself.
    """
    if not scan_id or "/" in scan_id:
        raise ValueError(f"scan id {scan_id!r} must be non-empty and contain no '/'")
    return f"scanpulse/{project}/{scan_id}"


def _require_aware(moment: datetime, name: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
