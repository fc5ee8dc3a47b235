"""The ``bandit`` analyzer: bandit's checks on the Python files, spread over worker processes.

Bandit is driven through its Python API in forked workers (one bandit start-up per worker
instead of one per chunk), with its default configuration. The repository's own Bandit settings
(``[tool.bandit]``, ``.bandit``: skips, tests, excluded paths) are applied by the pipeline to
the files it is given and the findings it reports (``scanpulse.pipeline.noise``), never read
by Bandit from the checkout.
"""

from __future__ import annotations

import codecs
import functools
import inspect
import io
import os
import re
import sys
import tokenize
from pathlib import Path
from typing import Any, ClassVar

import bandit
from bandit.core import config as bandit_config
from bandit.core import docs_utils, extension_loader
from bandit.core import manager as bandit_manager

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Confidence,
    Gap,
    Rule,
    Severity,
)
from scanpulse.analyzers.files import process_in_chunks, read_text
from scanpulse.analyzers.redaction import cache_part, identify, mask, require_key, secret_sha1

# Bump when this module's own logic changes what it reports, so cached results are redone.
_ANALYZER_REVISION = "2"
SNIPPET_MAX_LINES = 5

# The checks whose message quotes the string they flagged: bandit's hard-coded password checks
# ("Possible hardcoded password: 'hunter2'"). What they flag is treated as a secret.
SECRET_CHECKS = frozenset({"B105", "B106", "B107"})
_QUOTED = re.compile(r"(?P<head>[^:]*): '(?P<value>.*)'", re.DOTALL)
_GENERIC_HEAD = "Possible hardcoded password"

SEVERITIES: dict[str, Severity] = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
CONFIDENCES: dict[str, Confidence] = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low"}

# PEP 263, as the tokenizer applies it to the first two lines.
_CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)

_SKIP_REASONS = {
    "syntax error while parsing AST from file": "bandit could not parse the file (syntax error)",
    "exception while scanning file": "bandit failed on this file (internal error)",
}


@functools.cache
def _config() -> Any:
    return bandit_config.BanditConfig()


def _decode(path: str, data: bytes) -> tuple[str | None, str | None]:
    """The source text as Python reads it (PEP 263 coding cookie honoured), or an error."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:  # an unknown encoding, or bytes not valid in the one declared
        cookie = _CODING_COOKIE.search(b"\n".join(data.splitlines()[:2]))
        encoding = cookie.group(1).decode("ascii") if cookie else "utf-8"
    try:
        return data.decode(encoding), None
    except LookupError:
        return None, f"{path}: declares an unknown source encoding, skipped"
    except UnicodeDecodeError:
        name = codecs.lookup(encoding).name
        label = "UTF-8" if name.startswith("utf-8") else name
        return None, f"{path}: not valid {label}, skipped"


def _snippet(lines: list[str], issue: Any) -> str:
    numbers = sorted(set(issue.linerange or [issue.lineno]))[:SNIPPET_MAX_LINES]
    return "\n".join(lines[n - 1].strip() for n in numbers if 0 < n <= len(lines))


def quoted_secret(text: str) -> tuple[str, str]:
    """A secret check's message split into its words and the secret it quotes.

    A message of another form is taken as a secret as a whole, so that whatever bandit says in
    a later version never reaches the report in clear.
    """
    match = _QUOTED.fullmatch(text)
    if match is None:
        return _GENERIC_HEAD, text
    return match["head"], match["value"]


def _finding(path: str, lines: list[str], issue: Any) -> dict[str, Any]:
    linerange = issue.linerange or [issue.lineno]
    cwe = issue.cwe.id or None
    finding = AnalyzerFinding(
        rule_id=issue.test_id,
        severity=SEVERITIES.get(issue.severity, "info"),
        confidence=CONFIDENCES.get(issue.confidence, "low"),
        path=path,
        start_line=issue.lineno,
        end_line=max(linerange),
        message=issue.text,
        snippet=_snippet(lines, issue),
        properties={
            "cwe": cwe,
            "more_info": docs_utils.get_url(issue.test_id),
            "test_name": issue.test,
            "bandit_confidence": issue.confidence,
        },
    )
    if issue.test_id in SECRET_CHECKS:
        # The flagged line holds the secret too, so it cannot be the snippet either: the
        # secret's SHA-1 stands in until run() replaces it with the keyed identifier.
        head, value = quoted_secret(issue.text)
        finding.message = f"{head}: {mask(value)}"
        finding.snippet = secret_sha1(value)
        finding.properties["masked_secret"] = mask(value)
    return finding.to_dict()


def _scan_chunk(root: str, paths: list[str]) -> list[tuple[list[dict[str, Any]], str | None]]:
    """Per file of ``paths``: its finding dicts and the error about it, if any."""
    outcomes: dict[str, tuple[list[dict[str, Any]], str | None]] = {}
    sources: dict[str, tuple[str, list[str]]] = {}  # absolute name -> (path, source lines)
    for path in paths:
        absolute = os.path.join(root, path)
        try:
            content = read_text(Path(absolute))
        except OSError as exc:
            outcomes[path] = ([], f"{path}: could not be read ({exc.strerror})")
            continue
        if content.binary:
            outcomes[path] = ([], f"{path}: binary file, skipped")
            continue
        text, error = _decode(path, content.data)
        if text is None:
            outcomes[path] = ([], error)
            continue
        # Split as the tokenizer counts lines: str.splitlines() also breaks at form feeds.
        sources[absolute] = (path, text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        outcomes[path] = ([], None)

    manager = bandit_manager.BanditManager(_config(), "file", quiet=True)
    manager.discover_files(sorted(sources))
    manager.run_tests()
    for name, reason in manager.get_skipped():
        path = sources[name][0]
        message = _SKIP_REASONS.get(reason, f"bandit could not analyze the file ({reason})")
        outcomes[path] = ([], f"{path}: {message}")
    for issue in manager.get_issue_list():
        path, lines = sources[issue.fname]
        outcomes[path][0].append(_finding(path, lines, issue))
    return [outcomes[path] for path in paths]


def _crashed(path: str, reason: str) -> tuple[list[dict[str, Any]], str | None]:
    """A file that failed its worker process on its own (the other files keep their results)."""
    return [], f"{path}: not analyzed: {reason}"


def _plugin_text(function: Any) -> tuple[str, str]:
    """A check's title and first paragraph, from its docstring or else its module's (RST)."""
    doc = inspect.cleandoc(function.__doc__ or sys.modules[function.__module__].__doc__ or "")
    paragraphs = []
    for block in re.split(r"\n\s*\n", doc):
        lines = [line.strip() for line in block.splitlines()]
        text = " ".join(line for line in lines if line and not set(line) <= {"=", "-"})
        # Prose only: not RST fields, directives, sample output or link lists.
        if text and not text.startswith((":", "..", ">>", "-")):
            paragraphs.append(text)
    title = re.match(r"^\**B\d+:\s*(.+?)\**$", paragraphs[0]) if paragraphs else None
    if title is not None:
        paragraphs.pop(0)
    body = paragraphs[0] if paragraphs else ""
    return (title.group(1) if title else body.split(". ")[0].rstrip(".")), body


def _rule(test_id: str, example: AnalyzerFinding) -> Rule:
    """The rule of a check, from bandit's plugin or blacklist data.

    Bandit rates each issue, not each check, so a plugin check's rule keeps the default
    severity (``medium``); blacklist entries carry a level of their own.
    """
    tags = ["security"]
    if example.properties.get("cwe"):
        tags.append(f"CWE-{example.properties['cwe']}")
    listed = extension_loader.MANAGER.blacklist_by_id.get(test_id)
    if listed is not None:
        # docs_utils.get_url() rewrites these names in place with dashes; undo that.
        name = str(listed["name"]).replace("-", "_")
        short = str(listed["message"]).replace("{name}", " / ".join(listed["qualnames"]))
        full = f"Use of {', '.join(listed['qualnames'])}. {short}"
        severity = SEVERITIES.get(str(listed.get("level")), "medium")
    else:
        plugin = extension_loader.MANAGER.plugins_by_id[test_id]
        name = str(plugin.name)
        short, full = _plugin_text(plugin.plugin)
        short = short or example.message
        full = full or short
        severity = "medium"
    return Rule(
        id=test_id,
        name=name,
        short_description=short,
        full_description=full,
        help_uri=docs_utils.get_url(test_id),
        default_severity=severity,
        tags=tuple(tags),
    )


class BanditAnalyzer(Analyzer):
    """Bandit on ``*.py`` and ``*.pyw`` files (bandit's own default set; stubs are skipped).

    Severity and confidence map one to one: bandit HIGH → high, MEDIUM → medium, LOW → low.
    ``# nosec`` comments are honoured, as bandit does by default. What the hard-coded password
    checks flag is reported masked and by its keyed identifier, like the secrets analyzer's.
    """

    name: ClassVar[str] = "bandit"
    step: ClassVar[str] = "Running static analysis"
    per_file: ClassVar[bool] = True

    def tool_version(self) -> str:
        return str(bandit.__version__)

    def config_key(self, options: dict[str, Any]) -> str:
        # Secret identifiers depend on the key: another key must not reuse these results.
        return f"analyzer-{_ANALYZER_REVISION}-{cache_part(options)}"

    def selects(self, path: str) -> bool:
        return path.endswith((".py", ".pyw"))

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        key = require_key(context.options, self.name)
        _config()  # loaded before workers fork, so they inherit it
        outcomes = process_in_chunks(
            _scan_chunk,
            context.root,
            context.files,
            max_workers=context.max_workers,
            progress=context.progress,
            crashed=_crashed,
        )
        findings = [AnalyzerFinding.from_dict(f) for found, _ in outcomes for f in found]
        findings = [
            identify(finding, key) if finding.rule_id in SECRET_CHECKS else finding
            for finding in findings
        ]
        errors = [error for _, error in outcomes if error is not None]
        # Every error of this analyzer is about one file it could not analyze at all.
        gaps = [
            Gap(path, "skipped", error.removeprefix(f"{path}: ").removesuffix(", skipped"))
            for path, (_, error) in zip(context.files, outcomes, strict=True)
            if error is not None
        ]
        examples: dict[str, AnalyzerFinding] = {}
        for finding in findings:
            examples.setdefault(finding.rule_id, finding)
        return AnalyzerResult(
            tool=self.name,
            tool_version=self.tool_version(),
            rules=[_rule(test_id, examples[test_id]) for test_id in sorted(examples)],
            findings=findings,
            errors=errors,
            files_analyzed=len(outcomes) - len(errors),
            gaps=gaps,
        )
