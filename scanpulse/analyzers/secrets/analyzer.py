"""The ``secrets`` analyzer: detect-secrets' findings as scanpulse findings, file by file in
worker processes, secrets reported by a keyed identifier and a mask, never in clear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from detect_secrets.__version__ import VERSION as DETECT_SECRETS_VERSION
from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Confidence,
    Gap,
    Rule,
)
from scanpulse.analyzers.files import process_in_chunks, read_text
from scanpulse.analyzers.redaction import cache_part, identify, mask, require_key

from .scanner import shared_scanner

# Bump when this module's own logic changes what it reports, so cached results are redone.
_SCANNER_REVISION = "3"


def rule_id(secret_type: str) -> str:
    """``"AWS Access Key"`` → ``"aws-access-key"``."""
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


_ENTROPY_CONFIDENCE: Confidence = "medium"
_PATTERN_CONFIDENCE: Confidence = "high"


@dataclass(frozen=True, slots=True)
class _FileOutcome:
    path: str
    findings: list[dict[str, Any]]
    error: str | None = None
    gap: Gap | None = None


def _confidence(plugin: BasePlugin) -> Confidence:
    return (
        _ENTROPY_CONFIDENCE if isinstance(plugin, HighEntropyStringsPlugin) else _PATTERN_CONFIDENCE
    )


def _finding(path: str, secret: PotentialSecret, plugin: BasePlugin) -> AnalyzerFinding:
    """The finding as a worker reports it: its snippet is detect-secrets' SHA-1 of the secret
    until ``SecretsAnalyzer.run`` replaces it with the keyed identifier."""
    value = secret.secret_value or ""
    secret_type = secret.type
    return AnalyzerFinding(
        rule_id=rule_id(secret_type),
        severity="high",
        confidence=_confidence(plugin),
        path=path,
        start_line=secret.line_number,
        end_line=secret.line_number,
        # The place is the finding's location: a message naming the file could not be reused
        # for a copy or a renamed file from the per-file cache.
        message=f"{secret_type} on line {secret.line_number}",
        snippet=secret.secret_hash,
        properties={"secret_type": secret_type, "masked_secret": mask(value)},
    )


def _scan_chunk(root: str, paths: list[str]) -> list[_FileOutcome]:
    scanner = shared_scanner()
    by_type = {plugin.secret_type: plugin for plugin in scanner.plugins}
    outcomes = []
    for path in paths:
        try:
            content = read_text(Path(root) / path)
        except OSError as exc:
            outcomes.append(_skipped(path, f"could not be read ({exc.strerror})"))
            continue
        if content.binary:
            outcomes.append(_FileOutcome(path, []))
            continue
        text = content.text_replacing_errors()
        secrets, refusal = scanner.scan_guarded(path, text)
        findings = [_finding(path, s, by_type[s.type]).to_dict() for s in secrets]
        if refusal is None:
            outcomes.append(_FileOutcome(path, findings))
        else:
            reason = f"{refusal}; scanned line by line instead of as YAML"
            outcomes.append(
                _FileOutcome(path, findings, f"{path}: {reason}", Gap(path, "partial", reason))
            )
    return outcomes


def _skipped(path: str, reason: str) -> _FileOutcome:
    return _FileOutcome(path, [], f"{path}: {reason}, skipped", Gap(path, "skipped", reason))


def _crashed(path: str, reason: str) -> _FileOutcome:
    """A file that failed its worker process on its own (the other files keep their results)."""
    reason = f"not analyzed: {reason}"
    return _FileOutcome(path, [], f"{path}: {reason}", Gap(path, "skipped", reason))


def _rule(plugin: BasePlugin) -> Rule:
    cls = type(plugin)
    doc = (cls.__doc__ or "").strip()
    summary = doc.splitlines()[0].rstrip(".") if doc else plugin.secret_type
    doc = " ".join(doc.split())
    module = cls.__module__.rsplit(".", 1)[-1]
    return Rule(
        id=rule_id(plugin.secret_type),
        name=cls.__name__,
        short_description=summary,
        full_description=f"detect-secrets plugin {cls.__name__} ({plugin.secret_type}). {doc}".strip(),
        help_text=(
            "Remove the secret from the code, rotate it, and load it from the environment "
            "or a secret store instead."
        ),
        help_uri=(
            "https://github.com/Yelp/detect-secrets/blob/"
            f"v{DETECT_SECRETS_VERSION}/detect_secrets/plugins/{module}.py"
        ),
        default_severity="high",
        tags=("security", "secret"),
    )


class SecretsAnalyzer(Analyzer):
    """Credentials in any text file, by detect-secrets' built-in plugins.

    Severity is always ``high``; confidence is ``medium`` for the entropy plugins and ``high``
    for keyword and known-format plugins. Binary files (a NUL byte in the first 8 KiB) are not
    scanned; text that is not valid UTF-8 is scanned with invalid bytes replaced.
    """

    name: ClassVar[str] = "secrets"
    step: ClassVar[str] = "Detecting secrets"
    per_file: ClassVar[bool] = True

    def tool_version(self) -> str:
        return DETECT_SECRETS_VERSION

    def config_key(self, options: dict[str, Any]) -> str:
        # Identifiers depend on the key: another key must not reuse these results.
        return f"scanner-{_SCANNER_REVISION}-{cache_part(options)}"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        key = require_key(context.options, self.name)
        scanner = shared_scanner()  # built before workers fork, so they inherit it
        # What detect-secrets loads on first use (filters, transformers) is loaded here once
        # too, rather than in every worker.
        scanner.scan("warm-up.yaml", "warm: up\n")
        outcomes = process_in_chunks(
            _scan_chunk,
            context.root,
            context.files,
            max_workers=context.max_workers,
            progress=context.progress,
            crashed=_crashed,
        )
        findings = [
            identify(AnalyzerFinding.from_dict(f), key)
            for outcome in outcomes
            for f in outcome.findings
        ]
        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        by_id = {rule_id(plugin.secret_type): plugin for plugin in scanner.plugins}
        reported = sorted({finding.rule_id for finding in findings})
        return AnalyzerResult(
            tool=self.name,
            tool_version=self.tool_version(),
            rules=[_rule(by_id[identifier]) for identifier in reported],
            findings=findings,
            errors=errors,
            files_analyzed=len(outcomes) - len(errors),
            gaps=[outcome.gap for outcome in outcomes if outcome.gap is not None],
        )
