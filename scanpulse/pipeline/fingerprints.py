"""Stable finding identities: fingerprints that hash what was flagged, never the line number,
so a finding keeps its fingerprint from scan to scan while unrelated lines change around it."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence

from scanpulse.analyzers.base import AnalyzerFinding

# 128 bits of sha256: collisions stay negligible even across millions of findings, and the
# value fits comfortably in an indexed database column.
FINGERPRINT_HEX_CHARS = 32
# GitHub's primaryLocationLineHash uses 16 hex digits (64 bits) before the ":<occurrence>".
LINE_HASH_HEX_CHARS = 16


def normalize_snippet(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and strip the ends.

    Re-indenting a block, converting tabs, CRLF line endings or trailing spaces therefore
    never change a finding's identity.
    """
    return " ".join(text.split())


def occurrence_indexes(findings: Sequence[AnalyzerFinding]) -> list[int]:
    """For each finding, how many findings with the same rule, path and normalized snippet
    come before it, ordered by start line (no line sorts first) and then by list position.

    Every finding passed must come from the same tool run. Two identical flagged lines in one
    file get 0 and 1; inserting or deleting unrelated lines keeps their relative order and so
    their indexes.
    """
    order = sorted(
        range(len(findings)),
        key=lambda i: (findings[i].start_line or 0, i),
    )
    seen: defaultdict[tuple[str, str, str], int] = defaultdict(int)
    indexes = [0] * len(findings)
    for i in order:
        finding = findings[i]
        key = (finding.rule_id, finding.path, normalize_snippet(finding.snippet))
        indexes[i] = seen[key]
        seen[key] += 1
    return indexes


def _fingerprint(tool: str, finding: AnalyzerFinding, occurrence_index: int) -> str:
    # Hashed as a JSON array so that no separator inside a part can make two tuples collide.
    payload = json.dumps(
        [tool, finding.rule_id, finding.path, normalize_snippet(finding.snippet), occurrence_index],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:FINGERPRINT_HEX_CHARS]


def assign_fingerprints(tool: str, findings: Sequence[AnalyzerFinding]) -> list[str]:
    """The fingerprint of each finding of one tool run, in the same order.

    A fingerprint is the first 32 hex digits of the sha256 of tool, rule id, path, normalized
    snippet and occurrence index (see :func:`occurrence_indexes`).
    """
    return [
        _fingerprint(tool, finding, index)
        for finding, index in zip(findings, occurrence_indexes(findings), strict=True)
    ]


def primary_location_line_hash(snippet: str, occurrence_index: int) -> str:
    """SARIF ``partialFingerprints.primaryLocationLineHash`` in GitHub's ``<16 hex>:<n>`` form.

    Like GitHub's own value it hashes the flagged content only; ``n`` is the 1-based
    occurrence, i.e. ``occurrence_index + 1`` from :func:`occurrence_indexes`.
    """
    digest = hashlib.sha256(normalize_snippet(snippet).encode("utf-8", "surrogatepass"))
    return f"{digest.hexdigest()[:LINE_HASH_HEX_CHARS]}:{occurrence_index + 1}"


# -- dependency findings before they were grouped ---------------------------------------------

GROUPED_DEPENDENCY_RULE = "SP-DEP-VULNERABLE"
DEPENDENCIES_TOOL = "dependencies"


def fingerprint_of(tool: str, rule_id: str, path: str, snippet: str, occurrence: int = 0) -> str:
    """The fingerprint a finding with these parts has (see :func:`assign_fingerprints`)."""
    return _fingerprint(
        tool, AnalyzerFinding(rule_id, "info", "low", path, None, None, "", snippet), occurrence
    )


def pre_grouping_fingerprints(
    tool: str, rule_id: str, path: str, properties: dict[str, object]
) -> dict[str, tuple[str, ...]]:
    """For a grouped dependency finding (one per vulnerable package version), the fingerprints
    its advisories had when the analyzer reported one finding per advisory, by advisory id:
    rule id the advisory's id, the same manifest, the snippet the pinned requirement as
    normalized then (``name==version`` for PyPI, ``name@version`` for npm), occurrence 0 (or 1,
    for a package pinned twice in one manifest). Empty for any other finding."""
    if tool != DEPENDENCIES_TOOL or rule_id != GROUPED_DEPENDENCY_RULE:
        return {}
    name, version, ecosystem = (
        properties.get("package"),
        properties.get("version"),
        properties.get("ecosystem"),
    )
    advisories = properties.get("advisories")
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(advisories, list)):
        return {}
    requirement = f"{name}@{version}" if ecosystem == "npm" else f"{name}=={version}"
    found: dict[str, tuple[str, ...]] = {}
    for advisory in advisories:
        identifier = advisory.get("id") if isinstance(advisory, dict) else None
        if isinstance(identifier, str) and identifier:
            found[identifier] = tuple(
                fingerprint_of(tool, identifier, path, requirement, occurrence)
                for occurrence in (0, 1)
            )
    return found
