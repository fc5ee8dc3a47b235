"""Fingerprints survive unrelated edits and tell identical findings apart."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.pipeline.fingerprints import (
    assign_fingerprints,
    normalize_snippet,
    occurrence_indexes,
    pre_grouping_fingerprints,
    primary_location_line_hash,
)


def finding(
    line: int | None,
    snippet: str,
    *,
    rule_id: str = "B307",
    path: str = "app/views.py",
) -> AnalyzerFinding:
    return AnalyzerFinding(
        rule_id=rule_id,
        severity="medium",
        confidence="high",
        path=path,
        start_line=line,
        end_line=line,
        message="Use of possibly insecure function eval.",
        snippet=snippet,
    )


def test_normalize_snippet_ignores_indentation_and_trailing_whitespace() -> None:
    assert normalize_snippet("    result = eval(data)  \r\n") == "result = eval(data)"
    assert normalize_snippet("\tresult =\teval(data)") == "result = eval(data)"
    assert normalize_snippet("result = eval(data)") != normalize_snippet("result = eval(date)")


def test_fingerprint_is_32_hex_digits_and_ignores_the_line_number() -> None:
    [moved] = assign_fingerprints("bandit", [finding(120, "    eval(data)")])
    [original] = assign_fingerprints("bandit", [finding(3, "eval(data)  ")])
    assert re.fullmatch(r"[0-9a-f]{32}", original)
    assert moved == original


def test_fingerprint_depends_on_tool_rule_path_and_snippet() -> None:
    base = assign_fingerprints("bandit", [finding(1, "eval(data)")])
    variants = [
        assign_fingerprints("semgrep", [finding(1, "eval(data)")]),
        assign_fingerprints("bandit", [finding(1, "eval(data)", rule_id="B102")]),
        assign_fingerprints("bandit", [finding(1, "eval(data)", path="app/other.py")]),
        assign_fingerprints("bandit", [finding(1, "eval(other)")]),
    ]
    assert all(variant != base for variant in variants)


def test_identical_flagged_lines_get_distinct_fingerprints_in_line_order() -> None:
    findings = [finding(40, "eval(data)"), finding(7, "eval(data)"), finding(22, "  eval(data)")]
    assert occurrence_indexes(findings) == [2, 0, 1]
    fingerprints = assign_fingerprints("bandit", findings)
    assert len(set(fingerprints)) == 3
    # The same three findings reported in another order keep their fingerprints.
    reordered = assign_fingerprints("bandit", [findings[1], findings[2], findings[0]])
    assert reordered == [fingerprints[1], fingerprints[2], fingerprints[0]]


def test_findings_in_other_files_or_rules_do_not_shift_occurrences() -> None:
    findings = [
        finding(1, "eval(data)", path="a.py"),
        finding(2, "eval(data)", rule_id="B102"),
        finding(3, "eval(data)"),
    ]
    assert occurrence_indexes(findings) == [0, 0, 0]


def test_primary_location_line_hash_has_githubs_shape() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}:1", primary_location_line_hash("eval(data)", 0))
    assert primary_location_line_hash("  eval(data) ", 1) == primary_location_line_hash(
        "eval(data)", 1
    )
    assert primary_location_line_hash("eval(data)", 1).endswith(":2")


LINE_TEXTS = ["x = 1", "eval(data)", "    eval(data)", "password = 'hunter2'", "import os", ""]


@st.composite
def edited_files(
    draw: st.DrawFn,
) -> tuple[list[str], dict[int, str], list[str], dict[int, int]]:
    """A file, findings on some of its lines, and the file after unrelated lines changed.

    Returns (lines, rule of each flagged line index, edited lines, flagged line's new index).
    """
    lines = draw(st.lists(st.sampled_from(LINE_TEXTS), min_size=1, max_size=30))
    flagged = draw(st.sets(st.integers(0, len(lines) - 1), min_size=1))
    rules = {index: draw(st.sampled_from(["B307", "B105"])) for index in sorted(flagged)}
    # Each entry remembers which original line it is (None for inserted lines).
    entries: list[tuple[str, int | None]] = [(text, i) for i, text in enumerate(lines)]
    edits = draw(
        st.lists(
            st.tuples(st.booleans(), st.integers(0, 10_000), st.sampled_from(LINE_TEXTS)),
            min_size=1,
            max_size=10,
        )
    )
    for insert, where, text in edits:
        if insert:
            entries.insert(where % (len(entries) + 1), (text, None))
            continue
        removable = [pos for pos, (_, origin) in enumerate(entries) if origin not in flagged]
        if removable:
            del entries[removable[where % len(removable)]]
    new_index = {origin: pos for pos, (_, origin) in enumerate(entries) if origin is not None}
    return lines, rules, [text for text, _ in entries], new_index


@given(edited_files(), st.randoms(use_true_random=False))
def test_unrelated_insertions_and_deletions_keep_every_fingerprint(
    scenario: tuple[list[str], dict[int, str], list[str], dict[int, int]],
    rng: random.Random,
) -> None:
    lines, rules, edited, new_index = scenario
    before_order = list(rules)
    after_order = list(rules)
    rng.shuffle(after_order)

    before = assign_fingerprints(
        "bandit",
        [finding(i + 1, lines[i], rule_id=rules[i]) for i in before_order],
    )
    after = assign_fingerprints(
        "bandit",
        [finding(new_index[i] + 1, edited[new_index[i]], rule_id=rules[i]) for i in after_order],
    )
    assert dict(zip(before_order, before, strict=True)) == dict(
        zip(after_order, after, strict=True)
    )
    assert len(set(before)) == len(before)


@pytest.mark.parametrize(
    ("ecosystem", "package", "version", "requirement"),
    [("PyPI", "django", "3.2.0", "django==3.2.0"), ("npm", "lodash", "4.17.20", "lodash@4.17.20")],
)
def test_pre_grouping_fingerprints_are_those_the_per_advisory_findings_had(
    ecosystem: str, package: str, version: str, requirement: str
) -> None:
    # given: the per-advisory findings the analyzer reported before grouping (a package pinned
    # twice in one manifest: occurrences 0 and 1), fingerprinted as every finding is
    def old(advisory: str, line: int) -> AnalyzerFinding:
        return AnalyzerFinding(
            advisory, "high", "high", "deps/manifest", line, line, "m", snippet=requirement
        )

    findings = [old("ADV-1", 1), old("ADV-2", 1), old("ADV-1", 9), old("ADV-2", 9)]
    before = assign_fingerprints("dependencies", findings)
    grouped = {
        "package": package,
        "version": version,
        "ecosystem": ecosystem,
        "advisories": [{"id": "ADV-1"}, {"id": "ADV-2"}],
    }

    # when
    found = pre_grouping_fingerprints("dependencies", "SP-DEP-VULNERABLE", "deps/manifest", grouped)

    # then: each advisory's two occurrences, as they were
    assert found == {"ADV-1": (before[0], before[2]), "ADV-2": (before[1], before[3])}
    # ... and nothing for other findings
    assert pre_grouping_fingerprints("dependencies", "SP-DEP-UNPINNED", "x", grouped) == {}
    assert pre_grouping_fingerprints("bandit", "SP-DEP-VULNERABLE", "x", grouped) == {}
