"""Code excerpts of findings: the lines around each one, read from the checkout while it
exists (nothing of the source is kept after a scan), stored with the finding.

Secret values never reach an excerpt in clear: every secret detect-secrets finds in the file
is replaced by its mask (``analyzers.redaction.mask``, as in the secrets analyzer's messages),
and so is each piece of it a line may hold alone (a YAML block or a continued INI value spreads
one secret over several lines); on a line another finding reports a secret on (bandit's
hard-coded passwords), every quoted string is a secret too, masked there and wherever else the
file repeats it; credentials in URLs are masked on every line; the body of a private key is
masked whole. A line the author marked ``# pragma: allowlist secret`` (or the line after
``# pragma: allowlist nextline secret``), which detect-secrets does not report, is masked like a
line reported as a secret: its quoted strings and an unquoted ``key = value`` or ``key: value``,
there and wherever else the file repeats them (the pragma says a secret-like value is there, not
that it may be shown). Lines are capped after masking, so a cut never leaves part of a secret.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.analyzers.files import read_text
from scanpulse.analyzers.redaction import MASK, mask, mask_url_credentials
from scanpulse.analyzers.secrets.scanner import shared_scanner

logger = logging.getLogger(__name__)

CONTEXT_LINES = 3  # before the first line and after the last
MAX_LINES = 2 * CONTEXT_LINES + 5  # a longer finding shows its first lines
MAX_LINE_CHARS = 200
# At most this many findings of a scan get an excerpt (in the analyzers' order): a scan with
# a hundred thousand findings does not store a hundred thousand excerpts.
MAX_EXCERPTS = 5000
_ELLIPSIS = "…"
# Shorter pieces of a secret are not masked alone (they would mask common words everywhere).
_MIN_PIECE = 4

_QUOTED = re.compile(r"""(?P<q>['"`])(?P<value>(?:\\.|(?!(?P=q))[^\\])+)(?P=q)""")
_KEY_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY")
_KEY_END = re.compile(r"-----END[ A-Z0-9]*PRIVATE KEY")
# detect-secrets' inline allowlist comments (any comment style before "pragma").
_ALLOWLIST = re.compile(r"pragma:\s*allowlist[\s-]*secret", re.IGNORECASE)
_ALLOWLIST_NEXT = re.compile(r"pragma:\s*allowlist[\s-]*nextline[\s-]*secret", re.IGNORECASE)
# An unquoted value assigned on a line: ``key = value``, ``key: value`` (up to a comment).
_ASSIGNED = re.compile(r"""(?P<key>[\w.-]+)\s*(?::|=|:=)\s*(?P<value>[^\s'"`#;,]+)""")

Excerpt = dict[str, Any]  # {"start": first line number, "lines": [text, ...]}


def _reports_secret(finding: AnalyzerFinding) -> bool:
    return "masked_secret" in finding.properties or "secret_id" in finding.properties


def _allowlisted_lines(lines: Sequence[str]) -> set[int]:
    """The numbers of the lines an allowlist pragma marks (its own, or the next one)."""
    marked: set[int] = set()
    for number, line in enumerate(lines, start=1):
        if _ALLOWLIST_NEXT.search(line):
            marked.add(number + 1)
        elif _ALLOWLIST.search(line):
            marked.add(number)
    return marked


def _key_lines(lines: Sequence[str]) -> set[int]:
    """The numbers of the lines inside a private key block, its markers included."""
    inside: set[int] = set()
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if start is None and _KEY_BEGIN.search(line):
            start = number
        if start is not None:
            inside.add(number)
            if _KEY_END.search(line):
                start = None
    return inside


class _FileMasker:
    """Masks the secrets of one file's lines."""

    def __init__(self, path: str, text: str, secret_lines: Collection[int]) -> None:
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        values: set[str] = set()
        secrets, _ = shared_scanner().scan_guarded(path, text)
        for secret in secrets:
            if secret.secret_value:
                values.add(secret.secret_value)
                # A value joined from several lines is on none of them whole: mask its pieces.
                values.update(
                    piece for piece in secret.secret_value.split() if len(piece) >= _MIN_PIECE
                )
        allowlisted = _allowlisted_lines(self.lines)
        self.secret_lines = set(secret_lines) | allowlisted
        for number in self.secret_lines:
            if 1 <= number <= len(self.lines):
                values.update(
                    match["value"]
                    for match in _QUOTED.finditer(self.lines[number - 1])
                    if len(match["value"]) >= _MIN_PIECE
                )
        for number in allowlisted:
            if 1 <= number <= len(self.lines):
                line = _QUOTED.sub("", self.lines[number - 1])
                values.update(
                    match["value"]
                    for match in _ASSIGNED.finditer(line.split("#", 1)[0])
                    if len(match["value"]) >= _MIN_PIECE
                )
        # Longest first: a secret that contains another is masked whole.
        self.values = sorted(values, key=len, reverse=True)
        self.key_lines = _key_lines(self.lines)

    def line(self, number: int) -> str:
        if number in self.key_lines:
            return MASK
        text = mask_url_credentials(self.lines[number - 1])
        for value in self.values:
            text = text.replace(value, mask(value))
        if number in self.secret_lines:
            text = _QUOTED.sub(
                lambda m: (
                    m["q"] + (m["value"] if MASK in m["value"] else mask(m["value"])) + m["q"]
                ),
                text,
            )
        text = text.expandtabs(4).rstrip()
        if len(text) > MAX_LINE_CHARS:
            text = text[: MAX_LINE_CHARS - 1] + _ELLIPSIS
        return text

    def excerpt(self, start_line: int, end_line: int | None) -> Excerpt | None:
        total = len(self.lines)
        if self.lines and self.lines[-1] == "":
            total -= 1  # the text ends with a newline
        if not 1 <= start_line <= total:
            return None
        last = min(max(end_line or start_line, start_line), total)
        first = max(1, start_line - CONTEXT_LINES)
        until = min(total, last + CONTEXT_LINES, first + MAX_LINES - 1)
        return {"start": first, "lines": [self.line(n) for n in range(first, until + 1)]}


def finding_excerpts(
    root: Path, files: Collection[str], findings: Sequence[Sequence[AnalyzerFinding]]
) -> list[list[Excerpt | None]]:
    """For each list of ``findings`` (one per analyzer), the excerpt of each finding: None for
    a finding without a line, of a file that is not one of the scan's ``files``, of a file
    that cannot be read as UTF-8 text, or past the first ``MAX_EXCERPTS``. Never raises for
    one file. Secrets are masked whatever the analyzers found: every finding's lines count."""
    by_path: dict[str, list[tuple[int, int]]] = defaultdict(list)
    secret_lines: dict[str, set[int]] = defaultdict(set)
    wanted = 0
    for group, listed in enumerate(findings):
        for index, finding in enumerate(listed):
            if finding.start_line is None or finding.path not in files:
                continue
            if wanted < MAX_EXCERPTS:
                by_path[finding.path].append((group, index))
                wanted += 1
            if _reports_secret(finding):
                last = max(finding.end_line or finding.start_line, finding.start_line)
                secret_lines[finding.path].update(range(finding.start_line, last + 1))
    out: list[list[Excerpt | None]] = [[None] * len(listed) for listed in findings]
    for path, places in by_path.items():
        try:
            content = read_text(root / path)
            if content.binary or content.text is None:
                continue
            masker = _FileMasker(path, content.text, secret_lines[path])
            for group, index in places:
                finding = findings[group][index]
                assert finding.start_line is not None
                out[group][index] = masker.excerpt(finding.start_line, finding.end_line)
        except Exception:  # an excerpt is a courtesy: it never fails a scan
            logger.warning("No code excerpts for %s", path, exc_info=True)
            for group, index in places:
                out[group][index] = None
    return out
