"""The ``secrets`` analyzer: credentials found by detect-secrets' built-in plugins and filters.

Findings equal ``detect-secrets scan --all-files`` on the same files, but a cheap pre-filter sends
only the lines that can match to detect-secrets' per-line machinery. Secrets are reported by a
keyed identifier and a mask (``scanpulse.analyzers.redaction``), never in clear.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast

import yaml
from detect_secrets.__version__ import VERSION as DETECT_SECRETS_VERSION
from detect_secrets.core import scan as ds_scan
from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.core.usage import ParserBuilder
from detect_secrets.plugins import keyword as ds_keyword
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.settings import get_plugins
from detect_secrets.transformers import get_transformed_file, get_transformers
from detect_secrets.transformers.base import BaseTransformer
from detect_secrets.transformers.exceptions import ParsingError
from detect_secrets.transformers.yaml import YAMLTransformer
from detect_secrets.types import NamedIO
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.filetype import FileType, determine_file_type

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

# Bump when this module's own logic changes what it reports, so cached results are redone.
_SCANNER_REVISION = "3"

# detect-secrets walks a YAML document with every alias expanded, holding the expansion in
# memory: a few lines of nested aliases ("billion laughs") expand to billions of values. A
# document whose aliases add more values than this, that refers to itself, or that nests deeper
# than its parser can recurse, is read line by line instead (see yaml_refusal).
MAX_YAML_ALIAS_EXPANSION = 100_000
TOO_DEEP = "its YAML nests too deeply to be parsed"

# The command line this analyzer is equivalent to. Verification is off because it sends the
# secrets to third-party services; the file-existence filter is off because files are read by
# repository-relative name from outside the checkout (discovery already kept regular files only).
_DETECT_SECRETS_ARGS = (
    "scan",
    "--all-files",
    "--no-verify",
    "--disable-filter",
    "detect_secrets.filters.common.is_invalid_file",
)

# Characters other than A-Z and a-z that re.IGNORECASE matches to an ASCII letter, and the one
# character whose lowercase form is two characters long. Text without them can be lowercased
# and searched case-sensitively with exactly the result of an IGNORECASE search.
ASCII_CASE_ALIASES = "\u0130\u0131\u017f\u212a"
_ALIAS_RE = re.compile(f"[{ASCII_CASE_ALIASES}]")

# The limit on the size of a regex sub-language tracked as a set of exact strings.
_MAX_LANGUAGE = 64

_sre_parser: Any = importlib.import_module("re._parser")
_sre: Any = importlib.import_module("re._constants")


def rule_id(secret_type: str) -> str:
    """``"AWS Access Key"`` → ``"aws-access-key"``."""
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


# --- which lines can possibly match -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """Every match of a regex contains one of ``literals`` (compared case-insensitively when
    ``ignore_case``)."""

    literals: frozenset[str]
    ignore_case: bool

    @property
    def strength(self) -> tuple[int, int]:
        return min(map(len, self.literals)), -len(self.literals)


@dataclass(slots=True)
class _Language:
    exact: frozenset[str] | None  # all strings the sub-pattern matches, when there are few
    conditions: list[Condition] = field(default_factory=list)

    def condition(self, ignore_case: bool) -> Condition | None:
        candidates = list(self.conditions)
        if self.exact is not None and "" not in self.exact:
            candidates.append(Condition(self.exact, ignore_case))
        return max(candidates, key=lambda c: c.strength, default=None)


def _sequence(items: Any, ignore_case: bool) -> _Language:
    run: set[str] = {""}
    conditions: list[Condition] = []
    finite = True

    def flush() -> None:
        if "" not in run:
            conditions.append(Condition(frozenset(run), ignore_case))

    for op, argument in items:
        item = _item(op, argument, ignore_case)
        conditions.extend(item.conditions)
        if item.exact is not None and len(run) * len(item.exact) <= _MAX_LANGUAGE:
            run = {a + b for a in run for b in item.exact}
            continue
        flush()
        finite = False
        run = set(item.exact) if item.exact is not None else {""}
    flush()
    return _Language(frozenset(run) if finite else None, conditions)


def _item(op: Any, argument: Any, ignore_case: bool) -> _Language:
    if op is _sre.LITERAL:
        char = chr(argument)
        # A literal newline would let a "line" gate span two lines.
        return _Language(None if char == "\n" else frozenset({char}))
    if op is _sre.SUBPATTERN:
        _group, add_flags, del_flags, pattern = argument
        inner_case = bool(
            (ignore_case or add_flags & re.IGNORECASE) and not del_flags & re.IGNORECASE
        )
        inner = _sequence(pattern, inner_case)
        return inner if inner_case == ignore_case else _Language(None, inner.conditions)
    if op is _sre.ATOMIC_GROUP:
        return _sequence(argument, ignore_case)
    if op is _sre.BRANCH:
        alternatives = [_sequence(pattern, ignore_case) for pattern in argument[1]]
        exact: frozenset[str] | None = None
        if all(alt.exact is not None for alt in alternatives):
            union = frozenset().union(*(cast(frozenset[str], alt.exact) for alt in alternatives))
            exact = union if len(union) <= _MAX_LANGUAGE else None
        best = [alt.condition(ignore_case) for alt in alternatives]
        if any(condition is None for condition in best):
            return _Language(exact)
        chosen = cast(list[Condition], best)
        return _Language(
            exact,
            [
                Condition(
                    frozenset().union(*(c.literals for c in chosen)),
                    any(c.ignore_case for c in chosen),
                )
            ],
        )
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, high, pattern = argument
        inner = _sequence(pattern, ignore_case)
        if low == 0:
            optional = high == 1 and inner.exact is not None
            return _Language(inner.exact | {""} if optional and inner.exact else None)
        condition = inner.condition(ignore_case)
        if low == high == 1:
            return inner
        return _Language(None, [condition] if condition else [])
    # Character classes, anchors, lookarounds, back-references: no literal to rely on.
    return _Language(None)


def literal_condition(pattern: re.Pattern[str]) -> Condition | None:
    """The most selective literal condition every match of ``pattern`` satisfies, if any."""
    parsed = _sre_parser.parse(pattern.pattern, pattern.flags)
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    return _sequence(parsed, ignore_case).condition(ignore_case)


@dataclass(frozen=True, slots=True)
class _Gate:
    """Finds the lines containing a match of a regex that never matches a newline.

    ``exact`` works on the text itself; ``fast`` + ``rest`` give the same lines from the
    lowercased text (plus the original for non-ASCII literals), much faster than IGNORECASE.
    """

    exact: re.Pattern[str]
    fast: re.Pattern[str] | None = None
    rest: re.Pattern[str] | None = None

    @classmethod
    @functools.cache
    def for_condition(cls, condition: Condition) -> _Gate:
        """One gate per condition, so lines found for it are looked up once per text."""

        def alternation(literals: Sequence[str], flags: int = 0) -> re.Pattern[str]:
            return re.compile("|".join(map(re.escape, sorted(literals))), flags)

        if not condition.ignore_case:
            return cls(alternation(list(condition.literals)))
        ascii_literals = [s.lower() for s in condition.literals if s.isascii()]
        other = [s for s in condition.literals if not s.isascii()]
        return cls(
            exact=alternation(list(condition.literals), re.IGNORECASE),
            fast=alternation(ascii_literals) if ascii_literals else None,
            rest=alternation(other, re.IGNORECASE) if other else None,
        )


@dataclass(frozen=True, slots=True)
class _Probe:
    """Lines a plugin may report on: those passing ``gate`` (all if None), then ``confirm``."""

    gate: _Gate | None
    confirm: re.Pattern[str] | None = None


def _entropy_gate(plugin: HighEntropyStringsPlugin) -> _Gate:
    # Shannon entropy of n characters is at most log2(n), so a quoted run shorter than
    # 2 ** limit can never pass the plugin's limit; one character less for float rounding.
    shortest = max(1, int(2**plugin.entropy_limit) - 1)
    charset = re.escape(plugin.charset)
    return _Gate(re.compile("([\"'])[" + charset + "]{" + str(shortest) + ",}\\1"))


def _keyword_probe() -> _Probe:
    patterns: set[re.Pattern[str]] = set(ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    for table in ds_keyword.REGEX_BY_FILETYPE.values():
        patterns.update(table)
    conditions = [literal_condition(pattern) for pattern in patterns]
    if any(condition is None for condition in conditions):
        return _Probe(None)
    chosen = cast(list[Condition], conditions)
    union = Condition(
        frozenset().union(*(c.literals for c in chosen)), any(c.ignore_case for c in chosen)
    )
    return _Probe(_Gate.for_condition(union))


def plugin_probes(plugin: BasePlugin) -> list[_Probe]:
    """Probes whose lines include every line ``plugin`` can report a secret on."""
    if isinstance(plugin, RegexBasedDetector):
        probes = []
        for pattern in plugin.denylist:
            condition = literal_condition(pattern)
            gate = _Gate.for_condition(condition) if condition else None
            probes.append(_Probe(gate, pattern))
        return probes
    if isinstance(plugin, HighEntropyStringsPlugin):
        return [_Probe(_entropy_gate(plugin))]
    if isinstance(plugin, ds_keyword.KeywordDetector):
        return [_keyword_probe()]
    return [_Probe(None)]


class _Lines:
    """The rstripped lines of one line set joined by newlines, searchable per line."""

    def __init__(self, lines: list[str]) -> None:
        self.stripped = [line.rstrip() for line in lines]
        self.text = "\n".join(self.stripped)
        self.starts = [0, *itertools.accumulate(len(line) + 1 for line in self.stripped)][:-1]
        self._lowered: str | None = None
        self._lowered_known = False
        self._gate_cache: dict[int, set[int]] = {}

    @property
    def lowered(self) -> str | None:
        if not self._lowered_known:
            self._lowered_known = True
            if self.text.isascii() or _ALIAS_RE.search(self.text) is None:
                self._lowered = self.text.lower()
        return self._lowered

    def _search(self, pattern: re.Pattern[str], text: str, found: set[int]) -> None:
        position = 0
        starts = self.starts
        while (match := pattern.search(text, position)) is not None:
            index = bisect.bisect_right(starts, match.start()) - 1
            found.add(index)
            if index + 1 >= len(starts):
                return
            position = starts[index + 1]

    def gate_lines(self, gate: _Gate) -> set[int]:
        cached = self._gate_cache.get(id(gate))
        if cached is not None:
            return cached
        found: set[int] = set()
        lowered = self.lowered if gate.fast is not None or gate.rest is not None else None
        if lowered is None:
            self._search(gate.exact, self.text, found)
        else:
            if gate.fast is not None:
                self._search(gate.fast, lowered, found)
            if gate.rest is not None:
                self._search(gate.rest, self.text, found)
        self._gate_cache[id(gate)] = found
        return found

    def probe_lines(self, probe: _Probe) -> Iterator[int]:
        indexes = range(len(self.stripped)) if probe.gate is None else self.gate_lines(probe.gate)
        if probe.confirm is None:
            return iter(indexes)
        search = probe.confirm.search
        return (index for index in indexes if search(self.stripped[index]))


class _NamedText(io.StringIO):
    """An in-memory file with the ``name`` detect-secrets' transformers look at."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


def _transformed(handle: NamedIO, *, eager: bool, parse_yaml: bool) -> list[str] | None:
    if parse_yaml:
        return get_transformed_file(handle, use_eager_transformers=eager)
    # As detect_secrets.transformers.get_transformed_file, with the YAML transformer left out:
    # the file is read as if it did not parse as YAML.
    transformers: Iterable[BaseTransformer] = get_transformers()
    for transformer in transformers:
        if isinstance(transformer, YAMLTransformer) or eager != transformer.is_eager:
            continue
        if not transformer.should_parse_file(handle.name):
            continue
        try:
            return transformer.parse_file(handle)
        except ParsingError:
            pass
        finally:
            handle.seek(0)
    return None


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _alias_excess(root: yaml.Node) -> int | str:
    """How many nodes the aliases of a composed document add when expanded, or why the
    document cannot be expanded at all. Linear in the document: shared nodes are sized once."""
    ceiling = MAX_YAML_ALIAS_EXPANSION * 1000  # sizes saturate: the count is only compared
    sizes: dict[int, int] = {}
    active: set[int] = set()  # nodes whose descendants are being sized
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, sized = stack.pop()
        key = id(node)
        if sized:
            active.discard(key)
            children = _yaml_children(node)
            sizes[key] = min(ceiling, 1 + sum(sizes[id(child)] for child in children))
            continue
        if key in sizes:
            continue
        if key in active:  # a node among its own descendants: an alias inside its anchor
            return "its YAML aliases refer to themselves"
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _yaml_children(node))
    return sizes[id(root)] - len(sizes)


def yaml_refusal(filename: str, text: str) -> str | None:
    """Why detect-secrets must not parse this file as YAML, or None when it may.

    Only YAML files (by name, as detect-secrets decides) with an anchor and an alias are
    composed here first; composing is linear in the file, expanding is what explodes.
    """
    if determine_file_type(filename) != FileType.YAML or "&" not in text or "*" not in text:
        return None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        return None  # detect-secrets cannot parse it either, and reads its lines instead
    except RecursionError:
        return TOO_DEEP
    finally:
        loader.dispose()
    if root is None:
        return None
    excess = _alias_excess(root)
    if isinstance(excess, str):
        return excess
    if excess > MAX_YAML_ALIAS_EXPANSION:
        return f"its YAML aliases expand to more than {MAX_YAML_ALIAS_EXPANSION:,} values"
    return None


@functools.cache
def _configure_detect_secrets() -> None:
    """Set detect-secrets' global settings exactly as its command line does, once per process."""
    ParserBuilder().add_console_use_arguments().parse_args(list(_DETECT_SECRETS_ARGS))


class SecretScanner:
    """detect-secrets' ``scan_file`` with the same plugins, filters and transformers, skipping
    lines (and plugins on a line) that the probes prove cannot produce a secret."""

    def __init__(self) -> None:
        _configure_detect_secrets()
        self.plugins: list[BasePlugin] = list(get_plugins())
        self.probes = [plugin_probes(plugin) for plugin in self.plugins]

    def scan(self, filename: str, text: str, *, parse_yaml: bool = True) -> list[PotentialSecret]:
        """The secrets in ``text`` (of repository-relative ``filename``) in detect-secrets'
        order, one per (type, secret) as in its baseline.

        ``parse_yaml=False`` reads a YAML file as detect-secrets reads one it cannot parse:
        line by line."""
        if ds_scan._is_filtered_out(required_filter_parameters=["filename"], filename=filename):
            return []
        found: dict[PotentialSecret, None] = {}
        for lines in self._line_sets(filename, text, parse_yaml=parse_yaml):
            for secret in self._scan_lines(filename, lines):
                found.setdefault(secret)
            if found:
                break
        return list(found)

    @staticmethod
    def _line_sets(filename: str, text: str, *, parse_yaml: bool) -> Iterator[list[str]]:
        # As detect_secrets.core.scan._get_lines_from_file, minus the file opening.
        handle = cast(NamedIO, _NamedText(text.replace("\r\n", "\n").replace("\r", "\n"), filename))
        yield _transformed(handle, eager=False, parse_yaml=parse_yaml) or handle.readlines()
        handle.seek(0)
        eager = _transformed(handle, eager=True, parse_yaml=parse_yaml)
        if eager:
            yield eager

    def _scan_lines(self, filename: str, lines: list[str]) -> Iterator[PotentialSecret]:
        # As detect_secrets.core.scan._process_line_based_plugins, on the candidate lines only.
        searchable = _Lines(lines)
        candidates: dict[int, list[int]] = {}
        for plugin_index, probes in enumerate(self.probes):
            hits: set[int] = set()
            for probe in probes:
                hits.update(searchable.probe_lines(probe))
            for line_index in hits:
                candidates.setdefault(line_index, []).append(plugin_index)
        for line_index in sorted(candidates):
            line_number = line_index + 1
            line = searchable.stripped[line_index]
            context = get_code_snippet(lines=lines, line_number=line_number)
            if ds_scan._is_filtered_out(
                required_filter_parameters=["line"], filename=filename, line=line, context=context
            ):
                continue
            for plugin_index in candidates[line_index]:
                plugin = self.plugins[plugin_index]
                for secret in ds_scan._scan_line(
                    plugin=plugin,
                    filename=filename,
                    line=line,
                    line_number=line_number,
                    context=context,
                ):
                    if not ds_scan._is_filtered_out(
                        required_filter_parameters=["context"],
                        filename=secret.filename,
                        secret=secret.secret_value,
                        plugin=plugin,
                        line=line,
                        context=context,
                    ):
                        yield secret


@functools.cache
def _scanner() -> SecretScanner:
    return SecretScanner()


# --- the analyzer -------------------------------------------------------------------------------

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
    scanner = _scanner()
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
        refusal = yaml_refusal(path, text)
        try:
            secrets = scanner.scan(path, text, parse_yaml=refusal is None)
        except RecursionError:  # its YAML parser recursed too deeply: read it as unparsable
            refusal = TOO_DEEP
            secrets = scanner.scan(path, text, parse_yaml=False)
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
        scanner = _scanner()  # built before workers fork, so they inherit it
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
