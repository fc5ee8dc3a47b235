"""The SARIF objects of a report as JSON-ready dicts: run header, rule descriptors, results,
invocations and version-control provenance.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from scanpulse.analyzers.base import Rule, cwe_ids
from scanpulse.pipeline.fingerprints import primary_location_line_hash

from .model import (
    FINGERPRINT_KEY,
    LEVELS,
    SECURITY_SEVERITIES,
    SRCROOT,
    TOOL_INFORMATION_URIS,
    GitHubLimits,
    ReportedFinding,
    StreamedSarifRun,
)

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)
# ``user@host:path``, the scp-like form git accepts for ssh remotes.
_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?(?P<host>[^/:]+):(?P<path>[^/].*)")
# The taxonomy findings are classified in: results and rules reference its taxa by CWE number.
CWE_TAXONOMY = "CWE"
# How much of a dismissal's justification a result carries.
SUPPRESSION_JUSTIFICATION_CHARS = 1024


@dataclass(frozen=True, slots=True)
class PreparedRun:
    run: StreamedSarifRun
    rules: list[Rule]
    rule_index: dict[str, int]
    results: list[ReportedFinding]  # most severe first
    notifications: list[dict[str, Any]]


def run_head(
    prepared: PreparedRun,
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
    weaknesses = sorted(
        {number for rule in prepared.rules for number in rule_cwe_numbers(rule)}, key=int
    )
    if weaknesses:
        head["taxonomies"] = [
            {
                "name": CWE_TAXONOMY,
                "organization": "MITRE",
                "shortDescription": {"text": "The MITRE Common Weakness Enumeration"},
                "informationUri": "https://cwe.mitre.org/",
                "taxa": [
                    {
                        "id": number,
                        "helpUri": f"https://cwe.mitre.org/data/definitions/{number}.html",
                    }
                    for number in weaknesses
                ],
            }
        ]
    if provenance:
        head["versionControlProvenance"] = provenance
    head["originalUriBaseIds"] = {
        SRCROOT: {"description": {"text": "The root of the scanned repository checkout."}}
    }
    head["columnKind"] = "utf16CodeUnits"
    return dumps(head)[:-1] + ',"results":['


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
    properties: dict[str, Any] = {"tags": rule_tags(rule)[: limits.tags_per_rule]}
    if rule.default_severity in SECURITY_SEVERITIES:
        properties["security-severity"] = SECURITY_SEVERITIES[rule.default_severity]
    descriptor["properties"] = properties
    weaknesses = rule_cwe_numbers(rule)
    if weaknesses:
        descriptor["relationships"] = [
            {"target": _taxon_reference(number), "kinds": ["superset"]} for number in weaknesses
        ]
    return descriptor


def rule_cwe_numbers(rule: Rule) -> list[str]:
    """The CWE numbers ("89") a rule's tags name (``CWE-89``)."""
    return [cwe.removeprefix("CWE-") for cwe in cwe_ids(list(rule.tags))]


def _taxon_reference(number: str) -> dict[str, Any]:
    return {"id": number, "toolComponent": {"name": CWE_TAXONOMY}}


def rule_tags(rule: Rule) -> list[str]:
    # "security" first: GitHub shows only 10 tags, and needs it to treat the rule as security.
    return list(dict.fromkeys(("security", *rule.tags)))


def result_object(item: ReportedFinding, prepared: PreparedRun) -> dict[str, Any]:
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

    result: dict[str, Any] = {
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
    weaknesses = rule_cwe_numbers(rule)
    if weaknesses:
        result["taxa"] = [_taxon_reference(number) for number in weaknesses]
    if item.suppression is not None:
        # Dismissed in scanpulse: GitHub shows such a result as dismissed too.
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": _clip(item.suppression, SUPPRESSION_JUSTIFICATION_CHARS),
            }
        ]
    return result


def invocations(run: StreamedSarifRun, notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    invocation: dict[str, Any] = {
        "executionSuccessful": run.succeeded,
        "startTimeUtc": _utc(run.started),
        "endTimeUtc": _utc(run.finished),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return [invocation]


def notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def version_control_provenance(
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


def dumps(value: Any) -> str:
    # ASCII-only output: lone surrogates from undecodable file names stay valid JSON text, and
    # one character is one byte, which the size accounting relies on.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
