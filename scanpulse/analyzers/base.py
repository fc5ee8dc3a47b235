"""The analyzer plugin interface: what an analyzer is given and what it hands back.

An analyzer is a small class with a ``name`` and a ``run(context)`` method. It never touches
the database or the event bus; the pipeline runs it in a separate, resource-limited process
and turns its plain results into stored findings, SARIF and progress events.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
Confidence = Literal["high", "medium", "low"]
# skipped: not analyzed at all; partial: analyzed in part (the reason says which part was not);
# not_checked: a dependency manifest whose dependencies were not checked against advisories.
GapKind = Literal["skipped", "partial", "not_checked"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
CONFIDENCES: tuple[Confidence, ...] = ("high", "medium", "low")


_CWE = re.compile(r"^(?:CWE-)?(\d{1,5})$", re.IGNORECASE)


def cwe_ids(value: Any) -> list[str]:
    """``["CWE-89", …]`` from a finding's ``cwe`` property or a rule's tags: a number (bandit),
    a ``"CWE-89"`` string, or a list of either (text after the id, as in ``"CWE-89: …"``, is
    ignored); anything else gives nothing."""
    items = value if isinstance(value, list | tuple) else [value]
    found: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            continue
        match = _CWE.match(str(item).split(":", 1)[0].strip())
        if match and f"CWE-{int(match[1])}" not in found:
            found.append(f"CWE-{int(match[1])}")
    return found


def severity_rank(severity: str) -> int:
    """0 for critical … 4 for info; used for sorting and for thresholds."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Rule:
    """A check an analyzer can report, described once per run (SARIF ``reportingDescriptor``)."""

    id: str
    name: str
    short_description: str
    full_description: str = ""
    help_text: str = ""
    help_uri: str = ""
    default_severity: Severity = "medium"
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "short_description": self.short_description,
            "full_description": self.full_description,
            "help_text": self.help_text,
            "help_uri": self.help_uri,
            "default_severity": self.default_severity,
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        return cls(**{**data, "tags": tuple(data.get("tags", ()))})


@dataclass(slots=True)
class AnalyzerFinding:
    """One problem at one place, as an analyzer reports it.

    ``snippet`` is the normalized content of the flagged line(s); the pipeline builds the
    finding's fingerprint from it (not from the line number), so it must never hold a secret in
    clear — the secrets analyzer puts the secret's hash there instead.
    """

    rule_id: str
    severity: Severity
    confidence: Confidence
    path: str  # repository-relative, POSIX separators
    start_line: int | None
    end_line: int | None
    message: str
    snippet: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "confidence": self.confidence,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "message": self.message,
            "snippet": self.snippet,
            "properties": self.properties,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalyzerFinding:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Gap:
    """A file the analyzer did not fully analyze, and why: what makes a scan incomplete.

    ``reason`` is user-facing and never holds file content (no secret can leak through it).
    """

    path: str  # repository-relative, POSIX separators
    kind: GapKind
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gap:
        return cls(path=str(data["path"]), kind=data["kind"], reason=str(data["reason"]))


@dataclass(slots=True)
class AnalyzerResult:
    """Everything one analyzer run produced.

    ``errors`` are user-facing messages about files or the tool itself ("src/x.py: not valid
    UTF-8, skipped"); ``notes`` are facts the user should see even when nothing was found
    ("no advisory database loaded"). ``gaps`` name the files the analyzer did not fully
    analyze; a scan is complete only when no analyzer reports a gap or an error (an error that
    no gap of its file explains counts as a gap of its own).
    """

    tool: str
    tool_version: str
    rules: list[Rule] = field(default_factory=list)
    findings: list[AnalyzerFinding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_analyzed: int = 0
    gaps: list[Gap] = field(default_factory=list)
    # What the analyzer found the repository to consist of, as plain data: the dependencies
    # analyzer lists every pinned package ({ecosystem, name, version, path, direct}); the scan
    # stores it as its dependency inventory. Empty for every other analyzer.
    inventory: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "tool_version": self.tool_version,
            "rules": [rule.to_dict() for rule in self.rules],
            "findings": [finding.to_dict() for finding in self.findings],
            "errors": list(self.errors),
            "notes": list(self.notes),
            "files_analyzed": self.files_analyzed,
            "gaps": [gap.to_dict() for gap in self.gaps],
            "inventory": [dict(item) for item in self.inventory],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalyzerResult:
        return cls(
            tool=data["tool"],
            tool_version=data["tool_version"],
            rules=[Rule.from_dict(rule) for rule in data.get("rules", [])],
            findings=[AnalyzerFinding.from_dict(f) for f in data.get("findings", [])],
            errors=list(data.get("errors", [])),
            notes=list(data.get("notes", [])),
            files_analyzed=int(data.get("files_analyzed", 0)),
            gaps=[Gap.from_dict(gap) for gap in data.get("gaps", [])],
            inventory=[dict(item) for item in data.get("inventory", [])],
        )


def ignore_progress(done: int, total: int) -> None:
    return None


def ignore_log(message: str) -> None:
    return None


def never_cancelled() -> bool:
    return False


@dataclass(slots=True)
class AnalyzerContext:
    """What an analyzer gets: a checkout and the files in it it may read.

    ``files`` are repository-relative paths of regular files inside ``root``; symlinks,
    special files and anything resolving outside the checkout are already removed.
    """

    root: Path
    files: list[str]
    options: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[int, int], None] = ignore_progress
    log: Callable[[str], None] = ignore_log
    is_cancelled: Callable[[], bool] = never_cancelled
    max_workers: int = 1


class Analyzer(abc.ABC):
    """Base class of every analyzer plugin.

    ``per_file`` analyzers report findings that depend only on one file's content, so the
    pipeline may reuse earlier results for files whose content hash it has seen before.
    """

    name: ClassVar[str]
    step: ClassVar[str]  # the progress step shown while it runs
    per_file: ClassVar[bool] = False
    # True: when :meth:`narrow` leaves no file, no child process is started at all and
    # :meth:`nothing_to_do` is the result (for tools that cost seconds just to start).
    skip_when_empty: ClassVar[bool] = False

    @abc.abstractmethod
    def tool_version(self) -> str:
        """The version of the underlying tool; part of the per-file cache key."""

    def config_key(self, options: dict[str, Any]) -> str:
        """A string that changes whenever options change what the analyzer reports."""
        return ""

    def selects(self, path: str) -> bool:
        """Whether this analyzer wants to look at ``path`` at all."""
        return True

    def narrow(self, root: Path, files: list[str]) -> list[str]:
        """The selected ``files`` this analyzer is given; may read them (bounded) to decide,
        in the parent process, before any child is started."""
        return files

    def nothing_to_do(self) -> AnalyzerResult:
        """The result when ``skip_when_empty`` and no file is left."""
        return AnalyzerResult(tool=self.name, tool_version=self.tool_version())

    @abc.abstractmethod
    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        """Analyze ``context.files`` and return the result. Never raise for one bad file."""
