"""OSV's affected rule restated over ranks, for property tests of the matcher.

A version universe is sorted into ranks (equal versions share one); range events carry the
rank of their version, or None for introduced "0" and limit "*". The matcher under test works
on version strings; this works on integers, so the two can only agree by being right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scanpulse.advisories.osv import Affected, Event, Range

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
