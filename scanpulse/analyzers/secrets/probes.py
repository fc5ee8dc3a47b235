"""Which lines can possibly hold a secret: literal conditions derived from detect-secrets'
plugin regexes, turned into gates that find candidate lines far faster than running every
plugin on every line.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from detect_secrets.plugins import keyword as ds_keyword
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin

# Characters other than A-Z and a-z that re.IGNORECASE matches to an ASCII letter, and the one
# character whose lowercase form is two characters long. Text without them can be lowercased
# and searched case-sensitively with exactly the result of an IGNORECASE search.
ASCII_CASE_ALIASES = "\u0130\u0131\u017f\u212a"
_ALIAS_RE = re.compile(f"[{ASCII_CASE_ALIASES}]")

# The limit on the size of a regex sub-language tracked as a set of exact strings.
_MAX_LANGUAGE = 64

_sre_parser: Any = importlib.import_module("re._parser")
_sre: Any = importlib.import_module("re._constants")


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
class Gate:
    """Finds the lines containing a match of a regex that never matches a newline.

    ``exact`` works on the text itself; ``fast`` + ``rest`` give the same lines from the
    lowercased text (plus the original for non-ASCII literals), much faster than IGNORECASE.
    """

    exact: re.Pattern[str]
    fast: re.Pattern[str] | None = None
    rest: re.Pattern[str] | None = None

    @classmethod
    @functools.cache
    def for_condition(cls, condition: Condition) -> Gate:
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
class Probe:
    """Lines a plugin may report on: those passing ``gate`` (all if None), then ``confirm``."""

    gate: Gate | None
    confirm: re.Pattern[str] | None = None


def _entropy_gate(plugin: HighEntropyStringsPlugin) -> Gate:
    # Shannon entropy of n characters is at most log2(n), so a quoted run shorter than
    # 2 ** limit can never pass the plugin's limit; one character less for float rounding.
    shortest = max(1, int(2**plugin.entropy_limit) - 1)
    charset = re.escape(plugin.charset)
    return Gate(re.compile("([\"'])[" + charset + "]{" + str(shortest) + ",}\\1"))


def _keyword_probe() -> Probe:
    patterns: set[re.Pattern[str]] = set(ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    for table in ds_keyword.REGEX_BY_FILETYPE.values():
        patterns.update(table)
    conditions = [literal_condition(pattern) for pattern in patterns]
    if any(condition is None for condition in conditions):
        return Probe(None)
    chosen = cast(list[Condition], conditions)
    union = Condition(
        frozenset().union(*(c.literals for c in chosen)), any(c.ignore_case for c in chosen)
    )
    return Probe(Gate.for_condition(union))


def plugin_probes(plugin: BasePlugin) -> list[Probe]:
    """Probes whose lines include every line ``plugin`` can report a secret on."""
    if isinstance(plugin, RegexBasedDetector):
        probes = []
        for pattern in plugin.denylist:
            condition = literal_condition(pattern)
            gate = Gate.for_condition(condition) if condition else None
            probes.append(Probe(gate, pattern))
        return probes
    if isinstance(plugin, HighEntropyStringsPlugin):
        return [Probe(_entropy_gate(plugin))]
    if isinstance(plugin, ds_keyword.KeywordDetector):
        return [_keyword_probe()]
    return [Probe(None)]


class CandidateLines:
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

    def gate_lines(self, gate: Gate) -> set[int]:
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

    def probe_lines(self, probe: Probe) -> Iterator[int]:
        indexes = range(len(self.stripped)) if probe.gate is None else self.gate_lines(probe.gate)
        if probe.confirm is None:
            return iter(indexes)
        search = probe.confirm.search
        return (index for index in indexes if search(self.stripped[index]))
