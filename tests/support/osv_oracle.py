"""OSV's affected rule restated over ranks, for property tests of the matcher.

A version universe is sorted into ranks (equal versions share one); range events carry the
rank of their version, or None for introduced "0" and limit "*". The matcher under test works
on version strings; this works on integers, so the two can only agree by being right.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.version import Version

from scanpulse.advisories.osv import Affected, Event, Range
from tests.support import version_reference

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


# --- brute force over raw OSV records, for whole-ecosystem scans ---------------------------------


def oracle_name(ecosystem: str, name: str) -> str:
    """Package names as each registry compares them (restated, not scanpulse's helper)."""
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if ecosystem in ("npm", "NuGet", "Packagist"):
        return name.lower()
    return name


def _ranked(scheme: str, texts: Iterable[str]) -> dict[str, int]:
    """Each text's rank in the reference order (equal versions share a rank)."""
    order = sorted(set(texts), key=functools.cmp_to_key(version_reference.compare(scheme)))
    cmp = version_reference.compare(scheme)
    ranks: dict[str, int] = {}
    rank = -1
    previous: str | None = None
    for text in order:
        if previous is None or cmp(previous, text) != 0:
            rank += 1
        ranks[text] = rank
        previous = text
    return ranks


def _bound(scheme: str, kind: str, text: str) -> str:
    """docs/dependencies.md's policy restated: a partial ``introduced`` or ``fixed`` bound of
    an npm or crates.io range is the first release it names ("1.0" → "1.0.0"); every other
    partial version stays as written (and is rejected by the reference order)."""
    if scheme in ("npm", "crates.io") and kind in ("introduced", "fixed"):
        parts = text.split(".")
        if 1 <= len(parts) <= 2 and all(part.isdigit() and part.isascii() for part in parts):
            return ".".join([*parts, "0", "0"][:3])
    return text


def raw_entry_affects(entry: dict[str, Any], ecosystem: str, version: str) -> bool:
    """OSV's rule for one raw ``affected[]`` entry: listed (same spelling or equal in the
    reference order), or inside an ECOSYSTEM/SEMVER range none of whose versions the reference
    order rejects."""
    valid = version_reference.valid(ecosystem, version)
    cmp = version_reference.compare(ecosystem)
    for listed in entry.get("versions") or ():
        if listed == version or (
            valid and version_reference.valid(ecosystem, listed) and cmp(listed, version) == 0
        ):
            return True
    for rng in entry.get("ranges") or ():
        kind = rng.get("type")
        if kind not in ("ECOSYSTEM", "SEMVER"):
            continue
        scheme = "SEMVER" if kind == "SEMVER" else ecosystem
        if not version_reference.valid(scheme, version):
            continue
        events = [
            (event_kind, _bound(scheme, event_kind, text))
            for event_kind, text in (next(iter(event.items())) for event in rng.get("events") or ())
        ]
        texts = [
            text
            for event_kind, text in events
            if not (event_kind == "introduced" and text == "0")
            and not (event_kind == "limit" and text == "*")
        ]
        if not all(version_reference.valid(scheme, text) for text in texts):
            continue
        ranks = _ranked(scheme, [*texts, version])
        ranked: list[RankedEvent] = [
            (
                event_kind,
                None
                if (event_kind, text) in (("introduced", "0"), ("limit", "*"))
                else ranks[text],
                text,
            )
            for event_kind, text in events
        ]
        if affected(ranks[version], [(kind, ranked)], []):
            return True
    return False


def affecting_records(
    records: Sequence[dict[str, Any]], ecosystem: str, name: str, version: str
) -> set[str]:
    """The ids of the non-withdrawn raw records with an entry of this ecosystem and package
    that affects the version."""
    wanted = oracle_name(ecosystem, name)
    found = set()
    for record in records:
        if record.get("withdrawn"):
            continue
        for entry in record.get("affected") or ():
            package = entry.get("package") or {}
            if package.get("ecosystem") != ecosystem:
                continue
            if oracle_name(ecosystem, package.get("name", "")) != wanted:
                continue
            if raw_entry_affects(entry, ecosystem, version):
                found.add(record["id"])
                break
    return found


def raw_records(*folders: Path) -> list[dict[str, Any]]:
    """Every ``.json`` OSV record under the folders, decoded with ``json`` alone."""
    return [
        json.loads(path.read_bytes())
        for folder in folders
        for path in sorted(folder.rglob("*.json"))
    ]
