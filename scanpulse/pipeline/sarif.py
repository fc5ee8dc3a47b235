"""A scan's SARIF 2.1.0 report for GitHub code scanning, streamed in chunks or built whole
from the one serializer, ``iter_sarif_chunks`` (see docs/sarif.md)."""

from __future__ import annotations

import heapq
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from scanpulse.analyzers.base import (
    SEVERITIES,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
    severity_rank,
)
from scanpulse.pipeline.fingerprints import occurrence_indexes, primary_location_line_hash

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
    """One finding with its stable fingerprint and its index among identical findings."""

    finding: AnalyzerFinding
    fingerprint: str
    occurrence_index: int


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


def iter_sarif_chunks(
    runs: Sequence[SarifRun | StreamedSarifRun],
    *,
    automation_id: str,
    repository_uri: str | None,
    commit_sha: str | None,
    ref: str | None,
    limits: GitHubLimits = GITHUB_LIMITS,
    chunk_chars: int = 64 * 1024,
) -> Iterator[str]:
    """The SARIF document as compact, ASCII-only JSON text, in chunks of about ``chunk_chars``.

    One SARIF run per analyzer run, results most severe first. Whatever exceeds ``limits`` is
    left out, most severe results kept, and a warning notification in the run's invocation
    says what was dropped.
    """
    provenance = _version_control_provenance(repository_uri, commit_sha, ref)
    pending: list[str] = []
    pending_chars = 0
    for piece in _iter_pieces(runs, automation_id, provenance, limits):
        pending.append(piece)
        pending_chars += len(piece)
        if pending_chars >= chunk_chars:
            yield "".join(pending)
            pending.clear()
            pending_chars = 0
    if pending:
        yield "".join(pending)


def build_sarif(
    runs: Sequence[SarifRun | StreamedSarifRun],
    *,
    automation_id: str,
    repository_uri: str | None,
    commit_sha: str | None,
    ref: str | None,
    limits: GitHubLimits = GITHUB_LIMITS,
) -> dict[str, Any]:
    """The SARIF document as a dict; the same content :func:`iter_sarif_chunks` streams."""
    text = "".join(
        iter_sarif_chunks(
            runs,
            automation_id=automation_id,
            repository_uri=repository_uri,
            commit_sha=commit_sha,
            ref=ref,
            limits=limits,
        )
    )
    document: dict[str, Any] = json.loads(text)
    return document


def write_sarif(
    fp: TextSink,
    runs: Sequence[SarifRun | StreamedSarifRun],
    *,
    automation_id: str,
    repository_uri: str | None,
    commit_sha: str | None,
    ref: str | None,
    limits: GitHubLimits = GITHUB_LIMITS,
) -> None:
    """Write the SARIF document to a text file object, chunk by chunk."""
    for chunk in iter_sarif_chunks(
        runs,
        automation_id=automation_id,
        repository_uri=repository_uri,
        commit_sha=commit_sha,
        ref=ref,
        limits=limits,
    ):
        fp.write(chunk)


# --- serialization -----------------------------------------------------------------------

# Room, in compressed bytes, for the warning that says results were dropped for size.
_SIZE_NOTE_RESERVE = 512
# Meter flushes at least this often so its estimate never runs far ahead of the real size.
_METER_FLUSH_BYTES = 256 * 1024

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
# ``user@host:path``, the scp-like form git accepts for ssh remotes.
_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?(?P<host>[^/:]+):(?P<path>[^/].*)")


class _GzipMeter:
    """How large the text emitted so far is once gzipped, as GitHub's uploader does it."""

    def __init__(self) -> None:
        # Level 6 is zlib's default, which upload-sarif's ``zlib.gzipSync`` uses; wbits 31 = gzip.
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._compressed = 0
        self._unflushed = 0  # input bytes whose compressed size is not known yet

    def add(self, text: str) -> None:
        data = text.encode("ascii")
        self._compressed += len(self._compressor.compress(data))
        self._unflushed += len(data)
        if self._unflushed >= _METER_FLUSH_BYTES:
            self._flush()

    def size(self) -> int:
        self._flush()
        return self._compressed

    def fits(self, more: int, end: int) -> bool:
        """Whether ``more`` further bytes surely keep the compressed size within ``end``."""
        if self._compressed + self._unflushed + more <= end:
            return True
        return self.size() + more <= end

    def _flush(self) -> None:
        if self._unflushed:
            self._compressed += len(self._compressor.flush(zlib.Z_SYNC_FLUSH))
            self._unflushed = 0


@dataclass(frozen=True, slots=True)
class _PreparedRun:
    run: StreamedSarifRun
    rules: list[Rule]
    rule_index: dict[str, int]
    results: list[ReportedFinding]  # most severe first
    notifications: list[dict[str, Any]]


def _iter_pieces(
    runs: Sequence[SarifRun | StreamedSarifRun],
    automation_id: str,
    provenance: list[dict[str, Any]] | None,
    limits: GitHubLimits,
) -> Iterator[str]:
    meter = _GzipMeter()

    def emit(piece: str) -> str:
        meter.add(piece)
        return piece

    kept_runs = runs[: limits.runs_per_file]
    left_out_runs = runs[limits.runs_per_file :]
    # Headroom for what the meter cannot know exactly: the closing brackets, the gzip trailer
    # and how a one-pass compression by the uploader differs from our flushed measurement.
    safety = limits.gzip_bytes // 100

    yield emit(
        '{"$schema":'
        + _dumps(SARIF_SCHEMA_URI)
        + ',"version":'
        + _dumps(SARIF_VERSION)
        + ',"runs":['
    )
    for position, run in enumerate(kept_runs):
        streamed = run.as_streamed() if isinstance(run, SarifRun) else run
        extra = _runs_left_out_notes(left_out_runs, limits) if position == 0 else []
        prepared = _prepare_run(streamed, limits, extra)

        # Each run may use an equal share of what is left, so a noisy first analyzer cannot
        # crowd out the critical findings of the ones after it.
        start = meter.size()
        share = (limits.gzip_bytes - safety - start) // (len(kept_runs) - position)
        tail = _invocations(streamed, prepared.notifications)
        tail_estimate = len(zlib.compress(_dumps(tail).encode("ascii")))
        results_end = start + share - tail_estimate - _SIZE_NOTE_RESERVE

        if position:
            yield emit(",")
        yield emit(_run_head(prepared, automation_id, provenance, limits))
        emitted = 0
        for item in prepared.results:
            piece = ("," if emitted else "") + _dumps(_result(item, prepared))
            if not meter.fits(len(piece), results_end):
                break
            yield emit(piece)
            emitted += 1
        if emitted < len(prepared.results):
            dropped: Counter[str] = Counter(
                item.finding.severity for item in prepared.results[emitted:]
            )
            tail = _invocations(
                streamed,
                [
                    *prepared.notifications,
                    _notification(
                        "warning",
                        f"Left out {dropped.total():,} results ({_by_severity(dropped)}) to keep"
                        " the gzip-compressed report under GitHub code scanning's"
                        f" {limits.gzip_bytes:,}-byte upload limit; the most severe results"
                        " were kept.",
                    ),
                ],
            )
        yield emit('],"invocations":' + _dumps(tail) + "}")
    yield emit("]}")


def _prepare_run(
    run: StreamedSarifRun, limits: GitHubLimits, extra_notes: list[dict[str, Any]]
) -> _PreparedRun:
    results, dropped = _most_severe(run.findings, limits.results_per_run)
    rules, rules_left_out = _rules_for(run.rules, results, limits.rules_per_run)
    notifications = [
        *(_notification("error", text) for text in run.errors),
        *(_notification("note", text) for text in run.notes),
        *extra_notes,
    ]
    if dropped:
        dropped_total = dropped.total()
        notifications.append(
            _notification(
                "warning",
                f"Left out {dropped_total:,} of {dropped_total + len(results):,} results"
                f" ({_by_severity(dropped)}) to stay within GitHub code scanning's limit of"
                f" {limits.results_per_run:,} results per run; the most severe results were kept.",
            )
        )
    if rules_left_out:
        notifications.append(
            _notification(
                "warning",
                f"Left out {rules_left_out:,} rules that no result refers to, to stay within"
                f" GitHub code scanning's limit of {limits.rules_per_run:,} rules per run.",
            )
        )
    tags_cut = sum(1 for rule in rules if len(_tags(rule)) > limits.tags_per_rule)
    if tags_cut:
        notifications.append(
            _notification(
                "warning",
                f"Cut the tags of {tags_cut:,} rules to the first {limits.tags_per_rule},"
                " GitHub code scanning's limit per rule.",
            )
        )
    return _PreparedRun(
        run=run,
        rules=rules,
        rule_index={rule.id: index for index, rule in enumerate(rules)},
        results=results,
        notifications=notifications,
    )


def _most_severe(
    findings: Iterable[ReportedFinding], limit: int
) -> tuple[list[ReportedFinding], Counter[str]]:
    """The ``limit`` most severe findings (sorted, earlier first among equals) and how many of
    each severity were dropped. Never holds more than ``limit`` findings at once.
    """
    # Min-heap keyed on (-rank, -position): its top is the least severe, latest kept finding.
    heap: list[tuple[int, int, ReportedFinding]] = []
    dropped: Counter[str] = Counter()
    for position, item in enumerate(findings):
        entry = (-severity_rank(item.finding.severity), -position, item)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry[0] > heap[0][0]:
            dropped[heapq.heapreplace(heap, entry)[2].finding.severity] += 1
        else:
            dropped[item.finding.severity] += 1
    kept = [entry[2] for entry in sorted(heap, key=lambda e: (e[0], e[1]), reverse=True)]
    return kept, dropped


def _rules_for(
    declared: Sequence[Rule], results: Sequence[ReportedFinding], limit: int
) -> tuple[list[Rule], int]:
    """The rules to describe, and how many declared ones were left out for the rule limit.

    A rule id a result uses but the analyzer did not declare gets a minimal descriptor, so
    every result has a ``ruleIndex`` and its rule a security severity. Rules that results
    refer to are always kept.
    """
    by_id: dict[str, Rule] = {}
    for rule in declared:
        by_id.setdefault(rule.id, rule)
    for item in results:  # most severe first: a made-up rule takes its most severe level
        rule_id = item.finding.rule_id
        if rule_id not in by_id:
            by_id[rule_id] = Rule(
                id=rule_id,
                name=rule_id,
                short_description=rule_id,
                default_severity=item.finding.severity,
            )
    rules = list(by_id.values())
    if len(rules) <= limit:
        return rules, 0
    referenced = {item.finding.rule_id for item in results}
    spare = limit - len(referenced)
    selected: list[Rule] = []
    for rule in rules:
        if rule.id in referenced:
            selected.append(rule)
        elif spare > 0:
            selected.append(rule)
            spare -= 1
    return selected, len(rules) - len(selected)


def _run_head(
    prepared: _PreparedRun,
    automation_id: str,
    provenance: list[dict[str, Any]] | None,
    limits: GitHubLimits,
) -> str:
    """The run object up to and including ``"results":[``."""
    run = prepared.run
    driver: dict[str, Any] = {"name": run.tool}
    if run.tool_version:
        driver["version"] = run.tool_version
        if _SEMVER.fullmatch(run.tool_version):
            driver["semanticVersion"] = run.tool_version
    if run.tool in TOOL_INFORMATION_URIS:
        driver["informationUri"] = TOOL_INFORMATION_URIS[run.tool]
    driver["rules"] = [_rule_descriptor(rule, limits) for rule in prepared.rules]

    head: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": automation_id},
    }
    if provenance:
        head["versionControlProvenance"] = provenance
    head["originalUriBaseIds"] = {
        SRCROOT: {"description": {"text": "The root of the scanned repository checkout."}}
    }
    head["columnKind"] = "utf16CodeUnits"
    return _dumps(head)[:-1] + ',"results":['


def _rule_descriptor(rule: Rule, limits: GitHubLimits) -> dict[str, Any]:
    # GitHub requires non-empty short/full descriptions and help text, so each falls back on
    # the one before it.
    short = rule.short_description or rule.name or rule.id
    full = rule.full_description or short
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _clip(rule.name or rule.id, limits.rule_name_chars),
        "shortDescription": {"text": _clip(short, limits.description_chars)},
        "fullDescription": {"text": _clip(full, limits.description_chars)},
        "help": {"text": rule.help_text or full},
        "defaultConfiguration": {"level": LEVELS[rule.default_severity]},
    }
    if rule.help_uri:
        descriptor["helpUri"] = rule.help_uri
    properties: dict[str, Any] = {"tags": _tags(rule)[: limits.tags_per_rule]}
    if rule.default_severity in SECURITY_SEVERITIES:
        properties["security-severity"] = SECURITY_SEVERITIES[rule.default_severity]
    descriptor["properties"] = properties
    return descriptor


def _tags(rule: Rule) -> list[str]:
    # "security" first: GitHub shows only 10 tags, and needs it to treat the rule as security.
    return list(dict.fromkeys(("security", *rule.tags)))


def _result(item: ReportedFinding, prepared: _PreparedRun) -> dict[str, Any]:
    finding = item.finding
    rule = prepared.rules[prepared.rule_index[finding.rule_id]]
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": _artifact_uri(finding.path), "uriBaseId": SRCROOT}
    }
    if finding.start_line is not None and finding.start_line >= 1:
        region = {"startLine": finding.start_line}
        if finding.end_line is not None and finding.end_line >= finding.start_line:
            region["endLine"] = finding.end_line
        physical["region"] = region

    properties = {**finding.properties, "severity": finding.severity}
    properties["confidence"] = finding.confidence
    properties.pop("security-severity", None)
    if finding.severity in SECURITY_SEVERITIES:
        properties["security-severity"] = SECURITY_SEVERITIES[finding.severity]

    return {
        "ruleId": finding.rule_id,
        "ruleIndex": prepared.rule_index[finding.rule_id],
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message or rule.short_description or rule.id},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {
            "primaryLocationLineHash": primary_location_line_hash(
                finding.snippet, item.occurrence_index
            )
        },
        "fingerprints": {FINGERPRINT_KEY: item.fingerprint},
        "properties": properties,
    }


def _invocations(
    run: StreamedSarifRun, notifications: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    invocation: dict[str, Any] = {
        "executionSuccessful": run.succeeded,
        "startTimeUtc": _utc(run.started),
        "endTimeUtc": _utc(run.finished),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return [invocation]


def _runs_left_out_notes(
    left_out: Sequence[SarifRun | StreamedSarifRun], limits: GitHubLimits
) -> list[dict[str, Any]]:
    if not left_out:
        return []
    names = ", ".join(
        run.result.tool if isinstance(run, SarifRun) else run.tool for run in left_out
    )
    return [
        _notification(
            "warning",
            f"Left out {len(left_out)} analyzer runs ({names}) to stay within GitHub code"
            f" scanning's limit of {limits.runs_per_file} runs per SARIF file.",
        )
    ]


def _notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def _by_severity(counts: Counter[str]) -> str:
    return ", ".join(
        f"{severity} {counts[severity]:,}" for severity in SEVERITIES if counts[severity]
    )


def _version_control_provenance(
    repository_uri: str | None, commit_sha: str | None, ref: str | None
) -> list[dict[str, Any]] | None:
    uri = _clean_repository_uri(repository_uri) if repository_uri else None
    if uri is None or not commit_sha:
        return None
    details: dict[str, Any] = {"repositoryUri": uri, "revisionId": commit_sha}
    if ref and ref.startswith("refs/tags/"):
        details["revisionTag"] = ref.removeprefix("refs/tags/")
    elif ref:
        details["branch"] = ref.removeprefix("refs/heads/")
    details["mappedTo"] = {"uriBaseId": SRCROOT}
    return [details]


def _clean_repository_uri(raw: str) -> str | None:
    """An absolute URI for the repository, without credentials, query or fragment.

    The report may be uploaded elsewhere, so a token in ``https://user:token@host/...`` must
    not travel with it. scp-like ``git@host:path`` becomes ``ssh://host/path`` and an
    absolute local path a ``file:`` URI; anything else yields None.
    """
    if "://" not in raw:
        if raw.startswith("/"):
            return PurePosixPath(raw).as_uri()
        scp = _SCP_LIKE.fullmatch(raw)
        return f"ssh://{scp['host']}/{scp['path']}" if scp else None
    parts = urlsplit(raw)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _artifact_uri(path: str) -> str:
    # A URI reference: everything but "/" and unreserved characters is percent-encoded, and
    # bytes that were not valid UTF-8 (surrogate-escaped) come back as their original bytes.
    return quote(path, safe="/", errors="surrogateescape")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _dumps(value: Any) -> str:
    # ASCII-only output: lone surrogates from undecodable file names stay valid JSON text, and
    # one character is one byte, which the size accounting relies on.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
