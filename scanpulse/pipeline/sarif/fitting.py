"""Keeping a run within GitHub code scanning's limits: the most severe results and the rules
they need are kept, and a warning notification says what was left out.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from scanpulse.analyzers.base import SEVERITIES, Rule, severity_rank

from .model import GitHubLimits, ReportedFinding, SarifRun, StreamedSarifRun
from .objects import PreparedRun, notification, rule_tags


def prepare_run(
    run: StreamedSarifRun, limits: GitHubLimits, extra_notes: list[dict[str, Any]]
) -> PreparedRun:
    results, dropped = _most_severe(run.findings, limits.results_per_run)
    rules, rules_left_out = _rules_for(run.rules, results, limits.rules_per_run)
    notifications = [
        *(notification("error", text) for text in run.errors),
        *(notification("note", text) for text in run.notes),
        *extra_notes,
    ]
    if dropped:
        dropped_total = dropped.total()
        notifications.append(
            notification(
                "warning",
                f"Left out {dropped_total:,} of {dropped_total + len(results):,} results"
                f" ({by_severity(dropped)}) to stay within GitHub code scanning's limit of"
                f" {limits.results_per_run:,} results per run; the most severe results were kept.",
            )
        )
    if rules_left_out:
        notifications.append(
            notification(
                "warning",
                f"Left out {rules_left_out:,} rules that no result refers to, to stay within"
                f" GitHub code scanning's limit of {limits.rules_per_run:,} rules per run.",
            )
        )
    tags_cut = sum(1 for rule in rules if len(rule_tags(rule)) > limits.tags_per_rule)
    if tags_cut:
        notifications.append(
            notification(
                "warning",
                f"Cut the tags of {tags_cut:,} rules to the first {limits.tags_per_rule},"
                " GitHub code scanning's limit per rule.",
            )
        )
    return PreparedRun(
        run=run,
        rules=rules,
        rule_index={rule.id: index for index, rule in enumerate(rules)},
        results=results,
        notifications=notifications,
    )


def _most_severe(
    findings: Iterable[ReportedFinding], limit: int
) -> tuple[list[ReportedFinding], Counter[str]]:
    """The ``limit`` most severe findings (sorted, earlier first among equals) and how many of
    each severity were dropped. Never holds more than ``limit`` findings at once.
    """
    # Min-heap keyed on (-rank, -position): its top is the least severe, latest kept finding.
    heap: list[tuple[int, int, ReportedFinding]] = []
    dropped: Counter[str] = Counter()
    for position, item in enumerate(findings):
        entry = (-severity_rank(item.finding.severity), -position, item)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry[0] > heap[0][0]:
            dropped[heapq.heapreplace(heap, entry)[2].finding.severity] += 1
        else:
            dropped[item.finding.severity] += 1
    kept = [entry[2] for entry in sorted(heap, key=lambda e: (e[0], e[1]), reverse=True)]
    return kept, dropped


def _rules_for(
    declared: Sequence[Rule], results: Sequence[ReportedFinding], limit: int
) -> tuple[list[Rule], int]:
    """The rules to describe, and how many declared ones were left out for the rule limit.

    A rule id a result uses but the analyzer did not declare gets a minimal descriptor, so
    every result has a ``ruleIndex`` and its rule a security severity. Rules that results
    refer to are always kept.
    """
    by_id: dict[str, Rule] = {}
    for rule in declared:
        by_id.setdefault(rule.id, rule)
    for item in results:  # most severe first: a made-up rule takes its most severe level
        rule_id = item.finding.rule_id
        if rule_id not in by_id:
            by_id[rule_id] = Rule(
                id=rule_id,
                name=rule_id,
                short_description=rule_id,
                default_severity=item.finding.severity,
            )
    rules = list(by_id.values())
    if len(rules) <= limit:
        return rules, 0
    referenced = {item.finding.rule_id for item in results}
    spare = limit - len(referenced)
    selected: list[Rule] = []
    for rule in rules:
        if rule.id in referenced:
            selected.append(rule)
        elif spare > 0:
            selected.append(rule)
            spare -= 1
    return selected, len(rules) - len(selected)


def runs_left_out_notes(
    left_out: Sequence[SarifRun | StreamedSarifRun], limits: GitHubLimits
) -> list[dict[str, Any]]:
    if not left_out:
        return []
    names = ", ".join(
        run.result.tool if isinstance(run, SarifRun) else run.tool for run in left_out
    )
    return [
        notification(
            "warning",
            f"Left out {len(left_out)} analyzer runs ({names}) to stay within GitHub code"
            f" scanning's limit of {limits.runs_per_file} runs per SARIF file.",
        )
    ]


def by_severity(counts: Counter[str]) -> str:
    return ", ".join(
        f"{severity} {counts[severity]:,}" for severity in SEVERITIES if counts[severity]
    )
