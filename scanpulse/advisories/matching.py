"""Whether a package version is affected by an OSV record, following the OSV schema's evaluation.

A version is affected if it is listed in ``versions`` or lies in any ``ECOSYSTEM``/``SEMVER``
range; ``GIT`` ranges need a repository and are skipped without giving up on the record.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from scanpulse.advisories.osv import Advisory, Affected, EventKind, Range, normalize_name
from scanpulse.advisories.versions import VersionKey, padded_bound, parse_version

MATCHABLE_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")

# At equal versions "introduced" sorts first, so ``introduced: X, fixed: X`` is an empty range
# and ``introduced: X, last_affected: X`` affects exactly X.
_TIE_ORDER: dict[EventKind, int] = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


@functools.lru_cache(maxsize=65_536)
def _parsed(scheme: str, version: str) -> VersionKey | None:
    # Versions lists repeat across records and queries; parsing dominates matching time.
    return parse_version(scheme, version)


def _bound(scheme: str, kind: str, version: str) -> VersionKey | None:
    """An event's version, a partial npm or crates.io bound read as the release it means
    (``versions.padded_bound``)."""
    key = _parsed(scheme, version)
    if key is None:
        padded = padded_bound(scheme, kind, version)
        if padded is not None:
            return _parsed(scheme, padded)
    return key


def _scheme(entry: Affected, rng: Range) -> str:
    return "SEMVER" if rng.type == "SEMVER" else entry.ecosystem


def is_affected(entry: Affected, version: str) -> bool:
    """Whether ``version`` of ``entry``'s package is affected by this ``affected[]`` entry.

    A version that is not valid for the ecosystem (not PEP 440 for PyPI, not SemVer for npm) can
    only match ``versions`` by exact spelling. A range containing an event version that cannot be
    parsed is ignored as a whole (dropping just that event could widen or shrink it arbitrarily).
    """
    return _listed(entry, version) or any(
        _in_range(rng, _scheme(entry, rng), version)
        for rng in entry.ranges
        if rng.type in MATCHABLE_RANGE_TYPES
    )


def _listed(entry: Affected, version: str) -> bool:
    if version in entry.versions:
        return True
    key = _parsed(entry.ecosystem, version)
    if key is None:
        return False
    # PEP 440 equality ("3.2" == "3.2.0") and SemVer precedence (build metadata ignored).
    return any(_parsed(entry.ecosystem, listed) == key for listed in entry.versions)


def _in_range(rng: Range, scheme: str, version: str) -> bool:
    current = _parsed(scheme, version)
    if current is None:
        return False
    from_beginning = False
    limits: list[VersionKey | None] = []  # None: the "*" limit, i.e. no upper bound
    timeline: list[tuple[VersionKey, int, EventKind]] = []
    for event in rng.events:
        if event.kind == "introduced" and event.version == "0":
            from_beginning = True
            continue
        if event.kind == "limit" and "*" in event.version:
            limits.append(None)
            continue
        key = _bound(scheme, event.kind, event.version)
        if key is None:
            return False
        if event.kind == "limit":
            limits.append(key)
        else:
            timeline.append((key, _TIE_ORDER[event.kind], event.kind))
    if limits and not any(limit is None or current < limit for limit in limits):
        return False
    # Walk the events in version order; the last one at or below ``current`` decides. An
    # introduced "0" sorts before everything, so it is the starting state.
    affected = from_beginning
    for key, _, kind in sorted(timeline, key=lambda item: (item[0], item[1])):
        if kind == "introduced" and current >= key:
            affected = True
        elif (kind == "fixed" and current >= key) or (kind == "last_affected" and current > key):
            affected = False
    return affected


def fixed_versions(entry: Affected) -> list[str]:
    """The ``fixed`` versions of the entry's ``ECOSYSTEM``/``SEMVER`` ranges, lowest first.

    Unique by spelling; versions the ecosystem cannot order come last, alphabetically.
    """
    found = {
        event.version
        for rng in entry.ranges
        if rng.type in MATCHABLE_RANGE_TYPES
        for event in rng.events
        if event.kind == "fixed"
    }
    return _sorted_versions(entry.ecosystem, found)


def _sorted_versions(ecosystem: str, versions: Iterable[str]) -> list[str]:
    comparable: list[tuple[VersionKey, str]] = []
    other: list[str] = []
    for version in versions:
        key = _parsed(ecosystem, version)
        if key is None:
            other.append(version)
        else:
            comparable.append((key, version))
    comparable.sort(key=lambda item: (item[0], item[1]))
    return [version for _, version in comparable] + sorted(other)


def entries_for(advisory: Advisory, ecosystem: str, name: str) -> list[Affected]:
    """The advisory's ``affected[]`` entries about this package (names compared normalized)."""
    key = (ecosystem, normalize_name(ecosystem, name))
    return [entry for entry in advisory.affected if entry.package_key == key]


def advisory_affects(advisory: Advisory, ecosystem: str, name: str, version: str) -> bool:
    """Whether the advisory applies to this package version; withdrawn records never apply."""
    if advisory.withdrawn is not None:
        return False
    return any(is_affected(entry, version) for entry in entries_for(advisory, ecosystem, name))


def advisory_fixed_versions(advisory: Advisory, ecosystem: str, name: str) -> list[str]:
    """All fixed versions the advisory lists for this package, lowest first."""
    versions = {
        version
        for entry in entries_for(advisory, ecosystem, name)
        for version in fixed_versions(entry)
    }
    return _sorted_versions(ecosystem, versions)
