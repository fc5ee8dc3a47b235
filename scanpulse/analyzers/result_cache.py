"""The per-file result cache of ``per_file`` analyzers: keys by content and configuration,
what is stored after a run, and how cached findings join a fresh result.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scanpulse.analyzers.base import Analyzer, AnalyzerFinding, AnalyzerResult, Rule
from scanpulse.analyzers.runs import Limits, TooManyFindings

# Part of every cache key, so that entries of an earlier format are never read again (format 1
# entries could hold the findings of every file sharing one content, not of one file).
CACHE_FORMAT = "2"


class ResultCache(Protocol):
    """Per-file results of ``per_file`` analyzers, keyed by :func:`cache_key`.

    A value is the list of that file's findings, each a finding dict without ``path`` plus a
    ``rule`` entry holding the rule dict; an empty list is a valid result.
    """

    def get_many(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]: ...

    def put_many(self, entries: dict[str, list[dict[str, Any]]]) -> None: ...


@dataclass(slots=True)
class MemoryResultCache:
    """A :class:`ResultCache` in a dict, for tests and one-off runs."""

    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def get_many(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        return {key: self.entries[key] for key in keys if key in self.entries}

    def put_many(self, entries: dict[str, list[dict[str, Any]]]) -> None:
        self.entries.update(entries)


def cache_key(analyzer: Analyzer, options: dict[str, Any], content_sha256: str) -> str:
    """The cache key of one file's result: analyzer, tool version, configuration and content."""
    return cache_keys(analyzer, options)(content_sha256)


def cache_keys(analyzer: Analyzer, options: dict[str, Any]) -> Callable[[str], str]:
    """:func:`cache_key` for the files of one run: the analyzer's part (its tool version may
    read package metadata) is found once, not once per file."""
    head = (
        CACHE_FORMAT,
        analyzer.name,
        analyzer.tool_version(),
        analyzer.config_key(options),
        "",
    )
    hashed = hashlib.sha256("\0".join(head).encode("utf-8"))

    def key(content_sha256: str) -> str:
        digest = hashed.copy()
        digest.update(content_sha256.encode("utf-8"))
        return digest.hexdigest()

    return key


def _error_paths(errors: Sequence[str], candidates: set[str]) -> set[str] | None:
    """The files the ``"path: message"`` errors are about, or None if one is about no file."""
    paths = set()
    for error in errors:
        index = error.find(": ")
        while index != -1 and error[:index] not in candidates:
            index = error.find(": ", index + 1)
        if index == -1:
            return None
        paths.add(error[:index])
    return paths


def sha256_of(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None  # left to the analyzer, which reports it


def _names_its_file(finding: AnalyzerFinding) -> bool:
    """Whether the finding mentions its file anywhere but in ``path`` (the secrets analyzer's
    messages do): stored by content, it would name the wrong file for a copy or a rename."""
    if finding.path in finding.message or finding.path in finding.snippet:
        return True
    return bool(finding.properties) and finding.path in json.dumps(finding.properties)


def store_results(
    cache: ResultCache, fresh: AnalyzerResult, misses: list[str], keys: dict[str, str]
) -> None:
    """Store each analyzed file's findings under its content's key.

    Files with the same content share one key, and the entry holds the findings of one of
    them: a hit gives a file exactly its own findings, however many copies there are.
    """
    failed = _error_paths(fresh.errors, set(misses))
    if failed is None:
        return  # an error about no particular file may have touched any of them
    failed |= {gap.path for gap in fresh.gaps}  # a file not fully analyzed is analyzed again
    by_file: dict[str, list[AnalyzerFinding]] = {name: [] for name in misses if name in keys}
    for finding in fresh.findings:
        found = by_file.get(finding.path)
        if found is not None:
            found.append(finding)
    rules = {rule.id: rule.to_dict() for rule in fresh.rules}
    entries: dict[str, list[dict[str, Any]]] = {}
    for name, findings in by_file.items():
        key = keys[name]
        if key in entries or name in failed or any(map(_names_its_file, findings)):
            continue
        stored_findings = []
        for finding in findings:
            stored = finding.to_dict()
            del stored["path"]
            stored["rule"] = rules.get(finding.rule_id)
            stored_findings.append(stored)
        entries[key] = stored_findings
    if entries:
        cache.put_many(entries)


def merge_cached(
    fresh: AnalyzerResult, hits: dict[str, list[dict[str, Any]]], limits: Limits
) -> AnalyzerResult:
    # Counted before anything is built: the cache can hold far more than a tool would report.
    if len(fresh.findings) + sum(map(len, hits.values())) > limits.max_findings:
        raise TooManyFindings(limits.max_findings, fresh.tool)
    rules = {rule.id: rule for rule in fresh.rules}
    findings = list(fresh.findings)
    for name, stored_findings in hits.items():
        for stored in stored_findings:
            data = dict(stored)
            rule = data.pop("rule", None)
            if rule is not None and rule["id"] not in rules:
                rules[rule["id"]] = Rule.from_dict(rule)
            findings.append(AnalyzerFinding.from_dict({**data, "path": name}))
    findings.sort(key=lambda f: (f.path, f.start_line or 0, f.rule_id, f.message))
    return AnalyzerResult(
        tool=fresh.tool,
        tool_version=fresh.tool_version,
        rules=sorted(rules.values(), key=lambda rule: rule.id),
        findings=findings,
        errors=list(fresh.errors),
        notes=list(fresh.notes),
        files_analyzed=fresh.files_analyzed + len(hits),
        gaps=list(fresh.gaps),  # cached files had neither errors nor gaps
    )
