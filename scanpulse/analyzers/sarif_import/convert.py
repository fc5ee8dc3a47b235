"""Any tool's SARIF 2.1.0 report as scanpulse findings.

``check`` validates a report against the SARIF 2.1.0 schema and refuses what cannot be
ingested as it is (runs of different tools, paths outside the repository); ``convert`` turns a
checked report into one ``AnalyzerResult`` of the report's tool. Nothing from the report is
trusted as markup: messages and descriptions are kept as plain text (control characters
removed, length capped) and shown escaped.

Mapping:

- severity: the ``security-severity`` property (a CVSS-like score, of the result or of its
  rule) when there is one — 9.0 and above critical, 7.0 high, 4.0 medium, above 0 low, 0
  info (GitHub code scanning's bands); otherwise the ``level`` of the result, else of the
  rule's ``defaultConfiguration``, else ``warning``: error high, warning medium, note low,
  none info.
- confidence: the ``precision`` property (CodeQL, Semgrep): very-high and high high, medium
  medium, low and very-low low; otherwise medium.
- CWE: tags ``CWE-79``, ``CWE-79: …``, ``external/cwe/cwe-079``, a ``cwe`` property, and
  taxa/relationships into a taxonomy named CWE.
- identity: a result's ``partialFingerprints`` (else its ``fingerprints``) when it has any;
  otherwise the flagged snippet (``region.snippet.text``), otherwise the message. Only a hash
  of that basis is kept, as the finding's snippet, from which scanpulse's fingerprinting
  (tool, rule, path, snippet, occurrence) builds the finding's fingerprint — stable from one
  upload of the same report to the next whatever the line numbers.
- results of kind ``pass`` or ``notApplicable`` and results the tool itself suppressed (a
  ``suppressions`` entry not ``rejected``) are not findings; the result's notes count them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from scanpulse.analyzers.base import (
    AnalyzerFinding,
    AnalyzerResult,
    Confidence,
    Rule,
    Severity,
    cwe_ids,
)
from scanpulse.analyzers.sarif_import.locations import base_directories, result_location
from scanpulse.analyzers.sarif_import.text import http_uri, plain, text_of

SCHEMA_PATH = Path(__file__).with_name("sarif-schema-2.1.0.json")
SARIF_VERSION = "2.1.0"
# What the findings and runs of an uploaded report store (the database's column sizes).
MAX_TOOL = 50
MAX_RULE_ID = 200
MAX_MESSAGE = 4000
MAX_DESCRIPTION = 2000
# How many schema errors or bad paths a refusal lists.
LISTED = 5

LEVELS: dict[str, Severity] = {
    "error": "high",
    "warning": "medium",
    "note": "low",
    "none": "info",
}
PRECISIONS: dict[str, Confidence] = {
    "very-high": "high",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "very-low": "low",
}
_CODEQL_CWE = re.compile(r"^external/cwe/cwe-0*(\d{1,5})$", re.IGNORECASE)
_TOOL_NAME = re.compile(r"[^A-Za-z0-9 ._+@/-]+")
_PLACEHOLDER = re.compile(r"\{(\d+)\}")
# Windows drive letters (C:/…, C:\…) are absolute too.


class SarifRefused(ValueError):
    """A report that cannot be ingested; ``details`` lists what is wrong, one line each."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


@functools.cache
def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def schema_errors(document: Any) -> list[str]:
    """The first few ways ``document`` breaks the SARIF 2.1.0 schema (empty: it is valid)."""
    errors = sorted(_validator().iter_errors(document), key=lambda error: list(error.absolute_path))
    found = []
    for error in errors[:LISTED]:
        where = "/".join(str(part) for part in error.absolute_path) or "(the document)"
        found.append(f"{where}: {plain(error.message, 300)}")
    if len(errors) > LISTED:
        found.append(f"… and {len(errors) - LISTED} more")
    return found


def check(document: Any, *, root: str = "") -> AnalyzerResult:
    """The report's findings; raises ``SarifRefused`` for a report that is not SARIF 2.1.0,
    mixes tools, or names files outside the repository (``root``: the absolute directory the
    tool ran in, for reports that give absolute paths)."""
    if not isinstance(document, dict):
        raise SarifRefused("The report is not a SARIF log (a JSON object with runs).")
    if document.get("version") != SARIF_VERSION:
        raise SarifRefused(
            f"Only SARIF {SARIF_VERSION} can be uploaded; the report says version "
            f"{plain(str(document.get('version')), 40)!r}."
        )
    errors = schema_errors(document)
    if errors:
        raise SarifRefused("The report does not follow the SARIF 2.1.0 schema.", errors)
    return convert(document, root=root)


@dataclass(slots=True)
class _Run:
    data: dict[str, Any]
    rules: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)


def tool_name(document: dict[str, Any]) -> str:
    """The one tool whose report this is (``SarifRefused`` for none or several)."""
    names = []
    for run in document.get("runs") or []:
        name = _clean_tool(run["tool"]["driver"].get("name", ""))
        if name not in names:
            names.append(name)
    if not names:
        raise SarifRefused("The report has no runs: there is nothing to upload.")
    if len(names) > 1:
        raise SarifRefused(
            "The report holds the results of several tools ("
            + ", ".join(names[:LISTED])
            + "): upload each tool's report on its own."
        )
    if not names[0]:
        raise SarifRefused("The report's tool has no name (runs[].tool.driver.name).")
    return names[0]


def _clean_tool(name: str) -> str:
    return _TOOL_NAME.sub("-", plain(name, MAX_TOOL * 2)).strip(" -")[:MAX_TOOL]


def convert(document: dict[str, Any], *, root: str = "") -> AnalyzerResult:
    tool = tool_name(document)
    result = AnalyzerResult(tool=tool, tool_version="")
    rules: dict[str, Rule] = {}
    bad_paths: list[str] = []
    skipped: dict[str, int] = {}
    for run_index, run_data in enumerate(document["runs"]):
        driver = run_data["tool"]["driver"]
        if not result.tool_version:
            version = driver.get("semanticVersion") or driver.get("version") or ""
            result.tool_version = plain(str(version), 100)
        run = _Run(run_data, rules=list(driver.get("rules") or []))
        run.by_id = {rule["id"]: rule for rule in run.rules if isinstance(rule.get("id"), str)}
        bases = base_directories(run_data, root)
        for result_index, sarif_result in enumerate(run_data.get("results") or []):
            kind = sarif_result.get("kind", "fail")
            if kind in ("pass", "notApplicable"):
                skipped[f"of kind {kind}"] = skipped.get(f"of kind {kind}", 0) + 1
                continue
            if _suppressed(sarif_result):
                skipped["suppressed by the tool"] = skipped.get("suppressed by the tool", 0) + 1
                continue
            rule_data = _rule_of(run, sarif_result)
            rule_id = _rule_id(sarif_result, rule_data)
            try:
                path, start, end, snippet = result_location(run_data, sarif_result, bases)
            except ValueError as exc:
                bad_paths.append(f"runs/{run_index}/results/{result_index}: {exc}")
                continue
            finding = _finding(tool, sarif_result, rule_data, rule_id, path, start, end, snippet)
            result.findings.append(finding)
            if rule_id not in rules:
                rules[rule_id] = _rule(rule_id, rule_data, finding.severity)
    if bad_paths:
        listed = bad_paths[:LISTED]
        if len(bad_paths) > LISTED:
            listed.append(f"… and {len(bad_paths) - LISTED} more")
        raise SarifRefused(
            f"{len(bad_paths)} result(s) name a file outside the repository (an absolute path "
            "or one with '..'): give the directory the tool ran in (root) so that absolute "
            "paths under it can be made relative, or have the tool report relative paths.",
            listed,
        )
    result.rules = list(rules.values())
    result.files_analyzed = len({finding.path for finding in result.findings if finding.path})
    for why, count in sorted(skipped.items()):
        result.notes.append(f"{count} result(s) {why} were not taken as findings")
    return result


# --- rules -------------------------------------------------------------------------------------


def _rule_of(run: _Run, sarif_result: dict[str, Any]) -> dict[str, Any]:
    reference = sarif_result.get("rule") or {}
    index = reference.get("index", sarif_result.get("ruleIndex"))
    if isinstance(index, int) and 0 <= index < len(run.rules):
        return run.rules[index]
    identifier = sarif_result.get("ruleId") or reference.get("id")
    if isinstance(identifier, str):
        if identifier in run.by_id:
            return run.by_id[identifier]
        # "A/B" names a sub-rule of rule A (SARIF §3.27.5).
        base = identifier.split("/", 1)[0]
        if base in run.by_id:
            return run.by_id[base]
    return {}


def _rule_id(sarif_result: dict[str, Any], rule_data: dict[str, Any]) -> str:
    identifier = (
        sarif_result.get("ruleId")
        or (sarif_result.get("rule") or {}).get("id")
        or rule_data.get("id")
        or "unknown"
    )
    return plain(str(identifier), MAX_RULE_ID)


def _rule(rule_id: str, data: dict[str, Any], severity: Severity) -> Rule:
    properties = data.get("properties") or {}
    tags = [str(tag) for tag in properties.get("tags") or [] if isinstance(tag, str)]
    cwes = _cwes(data, {})
    help_data = data.get("help") or {}
    return Rule(
        id=rule_id,
        name=plain(str(data.get("name") or rule_id), 200),
        short_description=text_of(data.get("shortDescription"), MAX_DESCRIPTION) or rule_id,
        full_description=text_of(data.get("fullDescription"), MAX_DESCRIPTION),
        help_text=plain(str(help_data.get("text") or ""), MAX_DESCRIPTION),
        help_uri=http_uri(data.get("helpUri")),
        default_severity=_default_severity(data) or severity,
        tags=tuple(dict.fromkeys([*(plain(tag, 100) for tag in tags[:20]), *cwes])),
    )


def _default_severity(rule_data: dict[str, Any]) -> Severity | None:
    score = _score((rule_data.get("properties") or {}).get("security-severity"))
    if score is not None:
        return _band(score)
    level = (rule_data.get("defaultConfiguration") or {}).get("level")
    return LEVELS.get(level) if isinstance(level, str) else None


# --- findings ----------------------------------------------------------------------------------


def _finding(
    tool: str,
    sarif_result: dict[str, Any],
    rule_data: dict[str, Any],
    rule_id: str,
    path: str,
    start: int | None,
    end: int | None,
    snippet: str,
) -> AnalyzerFinding:
    message = _message(sarif_result, rule_data) or rule_id
    properties: dict[str, Any] = {"sarif_tool": tool}
    cwes = _cwes(rule_data, sarif_result)
    if cwes:
        properties["cwe"] = cwes
    partial = _string_map(sarif_result.get("partialFingerprints"))
    if partial:
        properties["partial_fingerprints"] = partial
        basis = json.dumps(["partialFingerprints", partial], sort_keys=True)
    elif fingerprints := _string_map(sarif_result.get("fingerprints")):
        basis = json.dumps(["fingerprints", fingerprints], sort_keys=True)
    elif snippet:
        basis = json.dumps(["snippet", " ".join(snippet.split())])
    else:
        basis = json.dumps(["message", " ".join(message.split())])
    level = sarif_result.get("level")
    properties["level"] = level if isinstance(level, str) else _rule_level(rule_data)
    return AnalyzerFinding(
        rule_id=rule_id,
        severity=_severity(sarif_result, rule_data),
        confidence=_confidence(sarif_result, rule_data),
        path=path,
        start_line=start,
        end_line=end,
        message=message,
        # Only a hash: a tool's snippet may hold a secret (gitleaks without --redact).
        snippet="sarif:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest(),
        properties=properties,
    )


def _rule_level(rule_data: dict[str, Any]) -> str:
    level = (rule_data.get("defaultConfiguration") or {}).get("level")
    return level if isinstance(level, str) else "warning"


def _severity(sarif_result: dict[str, Any], rule_data: dict[str, Any]) -> Severity:
    for properties in (sarif_result.get("properties"), rule_data.get("properties")):
        score = _score((properties or {}).get("security-severity"))
        if score is not None:
            return _band(score)
    level = sarif_result.get("level")
    if not isinstance(level, str):
        level = _rule_level(rule_data)
    return LEVELS.get(level, "medium")


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if 0.0 <= score <= 10.0 else None


def _band(score: float) -> Severity:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "info"


def _confidence(sarif_result: dict[str, Any], rule_data: dict[str, Any]) -> Confidence:
    for properties in (sarif_result.get("properties"), rule_data.get("properties")):
        precision = (properties or {}).get("precision")
        if isinstance(precision, str) and precision.lower() in PRECISIONS:
            return PRECISIONS[precision.lower()]
    return "medium"


def _cwes(rule_data: dict[str, Any], sarif_result: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for data in (rule_data, sarif_result):
        properties = data.get("properties") or {}
        values: list[Any] = []
        for tag in properties.get("tags") or []:
            match = _CODEQL_CWE.match(tag) if isinstance(tag, str) else None
            values.append(f"CWE-{match[1]}" if match else tag)
        cwe = properties.get("cwe")
        values.extend(cwe if isinstance(cwe, list) else [cwe])
        for reference in [
            *(data.get("taxa") or []),
            *(relation.get("target") or {} for relation in data.get("relationships") or []),
        ]:
            component = (reference.get("toolComponent") or {}).get("name")
            if isinstance(component, str) and component.upper() == "CWE":
                values.append(reference.get("id"))
        for cwe_id in cwe_ids(values):
            if cwe_id not in found:
                found.append(cwe_id)
    return found


def _message(sarif_result: dict[str, Any], rule_data: dict[str, Any]) -> str:
    message = sarif_result.get("message") or {}
    text = message.get("text")
    if not isinstance(text, str) and isinstance(message.get("id"), str):
        strings = rule_data.get("messageStrings") or {}
        text = (strings.get(message["id"]) or {}).get("text")
    if not isinstance(text, str):
        return ""
    arguments = [str(argument) for argument in message.get("arguments") or []]

    def argument(match: re.Match[str]) -> str:
        index = int(match[1])
        return arguments[index] if index < len(arguments) else match[0]

    return plain(_PLACEHOLDER.sub(argument, text), MAX_MESSAGE)


# What Semgrep writes into every result's fingerprints without a login: no identity at all.
PLACEHOLDER_FINGERPRINTS = frozenset({"requires login"})


def _string_map(value: Any) -> dict[str, str]:
    """The non-empty string entries of a fingerprint map (empty values, as gitleaks writes
    outside a git history, and placeholders identify nothing)."""
    if not isinstance(value, dict):
        return {}
    return {
        plain(str(key), 200): plain(str(item), 500)
        for key, item in value.items()
        if isinstance(item, str) and item and item not in PLACEHOLDER_FINGERPRINTS
    }


def _suppressed(sarif_result: dict[str, Any]) -> bool:
    suppressions = sarif_result.get("suppressions")
    if not suppressions:
        return False
    return any(entry.get("status", "accepted") == "accepted" for entry in suppressions)
