"""OSV's affected rule restated over ranks, for property tests of the matcher.

A version universe is sorted into ranks (equal versions share one); range events carry the
rank of their version, or None for introduced "0" and limit "*". The matcher under test works
on version strings; this works on integers, so the two can only agree by being right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from packaging.version import Version

from scanpulse.advisories.osv import Affected, Event, Range

_SEMVER_LIKE = re.compile(r"^v?\d+\.\d+\.\d+(-|\+|$)")

RankedEvent = tuple[str, int | None, str]  # kind, rank (None: introduced "0" / limit "*"), text


def affected(
    query: int, ranges: Sequence[tuple[str, Sequence[RankedEvent]]], listed: Iterable[int]
) -> bool:
    """Listed, or in a range with an introduced event at or below the version that no fixed
    (≤) or last_affected (<) event at or after it closes, under a limit; GIT ranges skipped."""
    if query in set(listed):
        return True
    for range_type, events in ranges:
        if range_type == "GIT":
            continue
        limits = [rank for kind, rank, _ in events if kind == "limit"]
        if limits and not any(limit is None or query < limit for limit in limits):
            continue
        for kind, start_rank, _ in events:
            if kind != "introduced":
                continue
            start = -1 if start_rank is None else start_rank
            if start > query:
                continue
            closed = any(
                rank is not None
                and (
                    (k == "fixed" and start <= rank <= query)
                    or (k == "last_affected" and start <= rank < query)
                )
                for k, rank, _ in events
            )
            if not closed:
                return True
    return False


def record(
    ecosystem: str, ranges: Sequence[tuple[str, Sequence[RankedEvent]]], versions: Iterable[str]
) -> Affected:
    """The package entry of an OSV record with these ranges and listed versions."""
    return Affected(
        ecosystem=ecosystem,
        name="pkg",
        ranges=tuple(
            Range(
                range_type,
                tuple(
                    # GIT events are commit hashes, never comparable versions
                    Event(kind, f"{text}-commit" if range_type == "GIT" else text)  # type: ignore[arg-type]
                    for kind, _, text in events
                ),
            )
            for range_type, events in ranges
        ),
        versions=tuple(versions),
    )


Record = tuple[
    str, Sequence[tuple[str, Sequence[RankedEvent]]], Sequence[int]
]  # id, ranges, listed


def prerelease_ranks(universe: Sequence[Sequence[str]]) -> frozenset[int]:
    """The ranks of a universe whose versions are pre-releases: a SemVer version with a
    ``-`` part, a PEP 440 version with a/b/rc or .dev (read by ``packaging`` itself)."""
    ranks = set()
    for rank, spellings in enumerate(universe):
        text = spellings[0]
        if _SEMVER_LIKE.match(text):
            pre = "-" in text.split("+", 1)[0]
        else:
            pre = Version(text).is_prerelease
        if pre:
            ranks.add(rank)
    return frozenset(ranks)


def upgrade(
    installed: int, records: Sequence[Record], size: int, prereleases: Iterable[int] = ()
) -> tuple[int | None, list[str]]:
    """The upgrade of a version that every record affects, over ranks: among the ranks of the
    records' fixed events above ``installed`` (GIT ranges skipped), the one that the most
    records do not affect, a release before a pre-release (``prereleases``), then the lowest
    (none if no rank fixes any); and the ids of the records it leaves."""
    fixed = {
        rank
        for _, ranges, _ in records
        for range_type, events in ranges
        if range_type != "GIT"
        for kind, rank, _ in events
        if kind == "fixed" and rank is not None
    }
    pre = set(prereleases)
    best: int | None = None
    best_score = (0, False)
    left = [identifier for identifier, _, _ in records]
    for rank in range(installed + 1, size):
        if rank not in fixed:
            continue
        still = [ident for ident, ranges, listed in records if affected(rank, ranges, listed)]
        score = (len(records) - len(still), rank not in pre)
        if score[0] and score > best_score:
            best, left, best_score = rank, still, score
    return best, left
