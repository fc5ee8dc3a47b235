"""Looking advisories up by package, and merging records that describe the same vulnerability.

``merge_by_alias`` is the one place records sharing an id or alias (PYSEC ↔ CVE ↔ GHSA) become a
single logical advisory; every index implementation returns its output from ``lookup``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from scanpulse.advisories.osv import Advisory, normalize_name
from scanpulse.advisories.osv_files import iter_records

_T = TypeVar("_T")


class AdvisoryIndex(Protocol):
    """What the dependencies analyzer needs from an advisory database."""

    def lookup(self, ecosystem: str, name: str) -> list[Advisory]:
        """Merged, non-withdrawn advisories with an ``affected`` entry for this package.

        ``name`` is compared after ``normalize_name``; the result is ordered by primary id.
        """
        ...

    def description(self) -> str | None:
        """One line naming the loaded data ("PyPA advisory-database, 2,661 records, loaded …"),
        or ``None`` when no advisory data is loaded at all."""
        ...

    def ecosystems(self) -> frozenset[str]:
        """The ecosystems the loaded data has advisories for ("PyPI", "npm", …): a package of
        another ecosystem was not checked, whatever ``lookup`` returns for it."""
        ...


# Primary-id preference: GHSA records carry a summary and CVSS vector and are what most tools
# show; PYSEC is the PyPA database's own id; CVE comes last because a CVE id is usually only an
# alias of a richer record. Only ids of loaded records are candidates, never bare aliases, so with
# the PyPA database alone the primary id is always the PYSEC id.
_PREFIX_RANK = {"GHSA": 0, "PYSEC": 1}
_OTHER_RANK = 2
_CVE_RANK = 3


def id_order(identifier: str) -> tuple[int, tuple[str | int, ...]]:
    """Sort key for advisory ids: preferred prefix first, then natural order (…-98 < …-100)."""
    prefix = identifier.split("-", 1)[0].upper()
    rank = _CVE_RANK if prefix == "CVE" else _PREFIX_RANK.get(prefix, _OTHER_RANK)
    # re.split with a group alternates text and digit runs, so each position has one type.
    parts = re.split(r"(\d+)", identifier)
    return rank, tuple(int(part) if i % 2 else part for i, part in enumerate(parts))


def _modified_at(advisory: Advisory) -> datetime:
    try:
        moment = datetime.fromisoformat(advisory.modified)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latest_records(advisories: Iterable[Advisory]) -> list[Advisory]:
    """One record per id: the most recently ``modified`` one (the first of equals wins)."""
    latest: dict[str, Advisory] = {}
    for advisory in advisories:
        seen = latest.get(advisory.id)
        if seen is None or _modified_at(advisory) > _modified_at(seen):
            latest[advisory.id] = advisory
    return list(latest.values())


def merge_by_alias(advisories: Iterable[Advisory]) -> list[Advisory]:
    """Merge records that share an id or alias, transitively, into one ``Advisory`` each.

    Duplicate ids keep their latest version (``latest_records``), then withdrawn records are
    dropped (so they neither match nor bridge two other records). A merged advisory has the
    preferred record id (see ``id_order``) as ``id``, every other id and alias as ``aliases``,
    the union of severity, references and ``affected`` entries, the first non-empty summary,
    details and published date in id order, and the latest ``modified``. The result is sorted
    by ``id_order``.
    """
    records = [record for record in latest_records(advisories) if record.withdrawn is None]
    parent: dict[str, str] = {}

    def root(identifier: str) -> str:
        parent.setdefault(identifier, identifier)
        while parent[identifier] != identifier:
            parent[identifier] = parent[parent[identifier]]
            identifier = parent[identifier]
        return identifier

    for record in records:
        for alias in record.aliases:
            parent[root(alias)] = root(record.id)
    groups: dict[str, list[Advisory]] = defaultdict(list)
    for record in records:
        groups[root(record.id)].append(record)
    merged = [_merge(group) for group in groups.values()]
    return sorted(merged, key=lambda advisory: id_order(advisory.id))


def _merge(group: list[Advisory]) -> Advisory:
    group = sorted(group, key=lambda record: id_order(record.id))
    primary = group[0]
    if len(group) == 1:
        return primary
    ids = {record.id for record in group} | {alias for record in group for alias in record.aliases}
    ids.discard(primary.id)
    return Advisory(
        id=primary.id,
        modified=max(group, key=_modified_at).modified,
        aliases=tuple(sorted(ids, key=id_order)),
        summary=next((record.summary for record in group if record.summary), ""),
        details=next((record.details for record in group if record.details), ""),
        severity=_union(item for record in group for item in record.severity),
        references=_union(item for record in group for item in record.references),
        affected=_union(entry for record in group for entry in record.affected),
        published=next((record.published for record in group if record.published), None),
    )


def _union(items: Iterable[_T]) -> tuple[_T, ...]:
    # dict keeps first-seen order, so the primary record's data comes first.
    return tuple(dict.fromkeys(items))


class MemoryAdvisoryIndex:
    """An ``AdvisoryIndex`` over records held in memory (tests, the CLI, small deployments)."""

    def __init__(
        self,
        advisories: Iterable[Advisory],
        *,
        source: str = "OSV advisories",
        loaded_at: datetime | None = None,
    ) -> None:
        self._records = latest_records(advisories)
        self._source = source
        self._loaded_at = loaded_at or datetime.now(UTC)
        self._by_package: dict[tuple[str, str], list[Advisory]] = defaultdict(list)
        for record in self._records:
            for key in dict.fromkeys(entry.package_key for entry in record.affected):
                self._by_package[key].append(record)
        self._merged: dict[tuple[str, str], list[Advisory]] = {}

    @classmethod
    def load(
        cls, path: Path | str, *, source: str | None = None
    ) -> tuple[MemoryAdvisoryIndex, list[str]]:
        """Load a directory tree, OSV ``all.zip`` or single record; returns the index and the
        per-file problems (bad files are skipped, never fatal)."""
        errors: list[str] = []
        index = cls(iter_records(path, errors), source=source or f"OSV records from {path}")
        return index, errors

    @property
    def record_count(self) -> int:
        """Distinct records loaded (withdrawn ones included)."""
        return len(self._records)

    def lookup(self, ecosystem: str, name: str) -> list[Advisory]:
        key = (ecosystem, normalize_name(ecosystem, name))
        merged = self._merged.get(key)
        if merged is None:
            merged = self._merged[key] = merge_by_alias(self._by_package.get(key, ()))
        return list(merged)

    def ecosystems(self) -> frozenset[str]:
        return frozenset(ecosystem for ecosystem, _ in self._by_package)

    def description(self) -> str | None:
        if not self._records:
            return None
        loaded = self._loaded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"{self._source}, {self.record_count:,} records, loaded {loaded}"
