"""The rule pack: where its rule files are, their families, their version and their metadata.

A rule file is ``rules/<language>/<family>/<rule>.yaml`` with one rule whose id is the file's
name; its metadata carries ``cwe``, ``scanpulse-severity``, ``confidence``, ``title`` and
``help``. The pack's version is a hash of every rule file (path and content), so that a changed
rule makes every cached result of the analyzer stale. An organization's own rule files (any
Semgrep rule file) join the pack as the family ``custom``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scanpulse.analyzers.base import CONFIDENCES, SEVERITIES, Confidence, Rule, Severity

RULES_DIR = Path(__file__).resolve().parent / "rules"
CUSTOM_FAMILY = "custom"
RULE_SUFFIXES = (".yaml", ".yml")
# A custom rule file larger than this is refused (rules are small; the engine parses them all).
MAX_RULE_FILE_BYTES = 512 * 1024

_SEMGREP_SEVERITIES: dict[str, Severity] = {
    "ERROR": "high",
    "CRITICAL": "critical",
    "HIGH": "high",
    "WARNING": "medium",
    "MEDIUM": "medium",
    "INFO": "low",
    "LOW": "low",
    "INVENTORY": "info",
    "EXPERIMENT": "info",
}
_CWE = re.compile(r"CWE-(\d+)", re.IGNORECASE)

# Words without which a file holds nothing a request-data rule's sources match: every source
# pattern of those rules names one of them (an attribute such as ``.GET`` or ``.query``, the
# name ``request``, or a route decorator whose parameters are request values), which
# tests/analyzers/test_semgrep.py checks rule by rule. The analyzer gives those rules only the
# files that contain one, an exact cut of their work: the taint rules cost the most, and most
# files of a project handle no request (docs/analyzers.md).
REQUEST_DATA_WORDS: dict[str, re.Pattern[bytes]] = {
    "python": re.compile(
        rb"\brequest\b"
        rb"|\.\s*(?:COOKIES|FILES|GET|META|POST|body|data|query_params)\b"
        rb"|@[^\n]*\.\s*(?:route|get|post|put|patch|delete|api_route|websocket)\s*\("
    ),
    "javascript": re.compile(
        rb"\.\s*(?:body|cookies|headers|param|params|query|data|URL|hash|referrer|search|name)\b"
        rb"|\bURLSearchParams\b"
    ),
}
LANGUAGE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyw"),
    "javascript": (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"),
}


@dataclass(frozen=True, slots=True)
class PackRule:
    """One rule of the pack (or of an organization's files), as findings and SARIF show it."""

    id: str
    family: str
    language: str
    severity: Severity
    confidence: Confidence
    cwe: tuple[str, ...]  # "CWE-89", …
    title: str
    message: str
    help: str
    from_request: bool  # a taint rule whose sources are request data

    def to_rule(self) -> Rule:
        tags = ["security", f"family:{self.family}", *self.cwe]
        if self.from_request:
            tags.append("taint:request")
        return Rule(
            id=self.id,
            name=self.id,
            short_description=self.title or self.message,
            full_description=self.message,
            help_text=self.help,
            default_severity=self.severity,
            tags=tuple(tags),
        )


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names it."""


def builtin_rule_files() -> list[Path]:
    return sorted(p for p in RULES_DIR.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())


def family_of(path: Path) -> str:
    """The family of a pack rule file: the folder it is in; any other file is ``custom``."""
    try:
        relative = path.resolve().relative_to(RULES_DIR)
    except ValueError:
        return CUSTOM_FAMILY
    return relative.parts[1] if len(relative.parts) >= 3 else CUSTOM_FAMILY


def language_of(path: Path) -> str:
    try:
        return path.resolve().relative_to(RULES_DIR).parts[0]
    except ValueError:
        return CUSTOM_FAMILY


@functools.cache
def builtin_rule_families() -> dict[str, str]:
    """Rule id → family, for every rule of the built-in pack (a rule's id is its file's name)."""
    return {path.stem: family_of(path) for path in builtin_rule_files()}


def families() -> list[str]:
    """Every family of the built-in pack, sorted."""
    return sorted({family_of(path) for path in builtin_rule_files()})


def version(files: Iterable[Path]) -> str:
    """A hash of the rule files' names and contents: changes whenever a rule does (and not
    with where a file lies, so a repository's rules keep their cached results scan to scan)."""
    entries = sorted((path.name, hashlib.sha256(path.read_bytes()).hexdigest()) for path in files)
    digest = hashlib.sha256()
    for name, content in entries:
        digest.update(f"{name}\0{content}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


def cwe_ids(values: Any) -> tuple[str, ...]:
    """``("CWE-89", …)`` from a rule's ``cwe`` metadata (a string or a list of strings)."""
    items = values if isinstance(values, list) else [values]
    found: list[str] = []
    for item in items:
        for number in _CWE.findall(str(item)):
            if f"CWE-{number}" not in found:
                found.append(f"CWE-{number}")
    return tuple(found)


def _confidence(value: Any) -> Confidence:
    text = str(value or "").lower()
    return next((c for c in CONFIDENCES if c == text), "medium")


def _severity(meta: dict[str, Any], raw: Any) -> Severity:
    own = str(meta.get("scanpulse-severity") or "").lower()
    if own in SEVERITIES:
        return own
    return _SEMGREP_SEVERITIES.get(str(raw or "").upper(), "medium")


def load_rules(path: Path) -> list[PackRule]:
    """The rules of one rule file; raises :class:`RuleFileError` for one that cannot be read."""
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise RuleFileError(f"{path.name}: larger than {MAX_RULE_FILE_BYTES // 1024} KiB")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleFileError(
            f"{path.name}: not a readable rule file ({type(exc).__name__})"
        ) from None
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise RuleFileError(f"{path.name}: no 'rules' list")
    family = family_of(path)
    loaded = []
    for entry in rules:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise RuleFileError(f"{path.name}: a rule without an id")
        raw_meta = entry.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        message = " ".join(str(entry.get("message", "")).split())
        loaded.append(
            PackRule(
                id=entry["id"],
                family=family,
                language=language_of(path),
                severity=_severity(meta, entry.get("severity")),
                confidence=_confidence(meta.get("confidence")),
                cwe=cwe_ids(meta.get("cwe", [])),
                title=" ".join(str(meta.get("title", "")).split()),
                message=message,
                help=" ".join(str(meta.get("help", "")).split()),
                from_request=entry.get("mode") == "taint" and meta.get("source") == "request",
            )
        )
    return loaded


def selected_files(disabled_families: Sequence[str]) -> list[Path]:
    """The built-in rule files of every family not switched off."""
    off = set(disabled_families)
    return [path for path in builtin_rule_files() if family_of(path) not in off]


def may_hold_request_data(path: str, content: bytes) -> bool:
    """Whether a request-data rule could report anything in this file (see
    ``REQUEST_DATA_WORDS``); those rules are Python and JavaScript rules, which semgrep does
    not apply to a file of another kind (a template) anyway."""
    for language, suffixes in LANGUAGE_SUFFIXES.items():
        if path.endswith(suffixes):
            return REQUEST_DATA_WORDS[language].search(content) is not None
    return False


def combined_rule_file(files: Sequence[Path], target: Path) -> Path:
    """The rules of the pack's own files in one file: semgrep reads and checks each rule file
    it is given on its own, which costs it more than matching a thousand files does
    (docs/benchmarks.md). Only the pack's files: an organization's file is given as it is."""
    rules: list[Any] = []
    for path in files:
        rules += yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    target.write_text(yaml.safe_dump({"rules": rules}, sort_keys=False), encoding="utf-8")
    return target
