"""OSV advisory records: typed, immutable dataclasses and the parser of one record.

``osv_files`` loads records in bulk (directory trees and ``all.zip`` exports); ``cvss`` scores
their CVSS vectors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import yaml
from packaging.utils import canonicalize_name

from scanpulse.advisories.versions import (
    ORDERED_SCHEMES,
    SCHEME_NAMES,
    is_partial,
    padded_bound,
    parse_version,
)

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
EVENT_KINDS: tuple[EventKind, ...] = ("introduced", "fixed", "last_affected", "limit")

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
# Far above any real record (the largest PyPA record is 17 KB); bounds what a hostile zip
# member can make us decompress.
MAX_RECORD_BYTES = 32 * 1024 * 1024

_YamlBase: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _OSVLoader(_YamlBase):
    """A safe YAML loader that keeps every scalar a string except ``null``.

    Versions and timestamps must stay text: the default resolvers turn an unquoted ``1.10`` into
    the float ``1.1`` and ``modified: 2021-06-22T04:54:55Z`` into a ``datetime``.
    """


_OSVLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag.endswith((":null", ":merge"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class OSVError(ValueError):
    """A record that is not valid OSV (the message says what and where)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One status change in a range: ``introduced``, ``fixed``, ``last_affected`` or ``limit``."""

    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    """An ``affected[].ranges[]`` entry; ``type`` is ``ECOSYSTEM``, ``SEMVER``, ``GIT`` or other."""

    type: str
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class SeverityScore:
    """A ``severity[]`` entry, e.g. ``CVSS_V3`` with its vector string as given."""

    type: str
    score: str


@dataclass(frozen=True, slots=True)
class Reference:
    type: str
    url: str


@dataclass(frozen=True, slots=True)
class Affected:
    """One ``affected[]`` entry: a package and its affected ranges and versions."""

    ecosystem: str
    name: str
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: tuple[SeverityScore, ...] = ()

    @property
    def package_key(self) -> tuple[str, str]:
        """``(ecosystem, normalized name)``, the key advisories are looked up by."""
        return (self.ecosystem, normalize_name(self.ecosystem, self.name))


@dataclass(frozen=True, slots=True)
class Advisory:
    """One OSV record, reduced to what matching and reporting need."""

    id: str
    modified: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    withdrawn: str | None = None
    severity: tuple[SeverityScore, ...] = ()
    references: tuple[Reference, ...] = ()
    affected: tuple[Affected, ...] = ()
    published: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict in OSV shape (empty fields left out); ``from_dict`` reads it back."""
        data: dict[str, Any] = {"id": self.id, "modified": self.modified}
        if self.aliases:
            data["aliases"] = list(self.aliases)
        if self.summary:
            data["summary"] = self.summary
        if self.details:
            data["details"] = self.details
        if self.published is not None:
            data["published"] = self.published
        if self.withdrawn is not None:
            data["withdrawn"] = self.withdrawn
        if self.severity:
            data["severity"] = [_severity_to_dict(item) for item in self.severity]
        if self.references:
            data["references"] = [{"type": ref.type, "url": ref.url} for ref in self.references]
        if self.affected:
            data["affected"] = [_affected_to_dict(entry) for entry in self.affected]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Advisory:
        """Build from an OSV record (or ``to_dict`` output); raises ``OSVError`` if invalid."""
        return parse_record(data)


def _severity_to_dict(item: SeverityScore) -> dict[str, str]:
    return {"type": item.type, "score": item.score}


def _affected_to_dict(entry: Affected) -> dict[str, Any]:
    data: dict[str, Any] = {"package": {"ecosystem": entry.ecosystem, "name": entry.name}}
    if entry.ranges:
        data["ranges"] = [
            {
                "type": rng.type,
                "events": [{event.kind: event.version} for event in rng.events],
            }
            for rng in entry.ranges
        ]
    if entry.versions:
        data["versions"] = list(entry.versions)
    if entry.severity:
        data["severity"] = [_severity_to_dict(item) for item in entry.severity]
    return data


def record_digest(advisory: Advisory) -> str:
    """SHA-256 of the record as matching and reporting see it (``to_dict``): what decides
    whether a record changed between two loads."""
    text = json.dumps(advisory.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# Ecosystems whose registries treat package names case-insensitively.
_CASE_INSENSITIVE = frozenset({"npm", "NuGet", "Packagist"})


def normalize_name(ecosystem: str, name: str) -> str:
    """The form package names are compared in: PEP 503 for PyPI, lowercase for npm, NuGet and
    Packagist (``vendor/name``), as written elsewhere (Maven ``group:artifact``, Go module
    paths, crates and gems are case-sensitive).

    npm has refused new names with capitals for years and treats names differing only by case as
    the same package, so lowercasing only merges legacy spellings such as ``JSONStream``.
    """
    if ecosystem == "PyPI":
        return str(canonicalize_name(name))
    if ecosystem in _CASE_INSENSITIVE:
        return name.strip().lower()
    return name.strip()


def unorderable_events(advisory: Advisory) -> list[str]:
    """What is wrong with the event versions of the record's ``ECOSYSTEM``/``SEMVER`` ranges
    that its ecosystem cannot order (``"fixed": "7.1.3.4, 7.1.4 "``): the matcher ignores such
    a range (and only it), so the load reports each one. A partial ``introduced``/``fixed``
    bound of npm or crates.io is read as the release it means and is no problem; a partial
    ``last_affected``/``limit`` bound or listed version is (``versions.PARTIAL_BOUND_SCHEMES``)."""
    problems = []
    for i, entry in enumerate(advisory.affected):
        for j, listed in enumerate(entry.versions):
            if is_partial(entry.ecosystem, listed):
                problems.append(
                    f"affected[{i}].versions[{j}]: {listed!r} is a partial version (a release "
                    f"line, not a published version); not matched ({entry.name})"
                )
        for j, rng in enumerate(entry.ranges):
            if rng.type not in ("ECOSYSTEM", "SEMVER"):
                continue
            scheme = "SEMVER" if rng.type == "SEMVER" else entry.ecosystem
            if scheme not in ORDERED_SCHEMES:
                continue
            for k, event in enumerate(rng.events):
                if (event.kind == "introduced" and event.version == "0") or (
                    event.kind == "limit" and "*" in event.version
                ):
                    continue
                if parse_version(scheme, event.version) is None and (
                    padded_bound(scheme, event.kind, event.version) is None
                ):
                    partial = is_partial(scheme, event.version)
                    if partial:
                        problems.append(
                            f"affected[{i}].ranges[{j}].events[{k}]: {event.kind} "
                            f"{event.version!r} is a partial version, which names no single "
                            f"{SCHEME_NAMES[scheme]} version here; range ignored ({entry.name})"
                        )
                        continue
                    problems.append(
                        f"affected[{i}].ranges[{j}].events[{k}]: {event.kind} {event.version!r} "
                        f"is not a valid {SCHEME_NAMES[scheme]} version; range ignored "
                        f"({entry.name})"
                    )
    return problems


# --- parsing -----------------------------------------------------------------------------------


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise OSVError(f"{where} must be a string, not {_kind(value)}")
    return value


def _optional_string(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    return None if value is None else _string(value, f"{where}{key}")


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OSVError(f"{where}{key} must be a list, not {_kind(value)}")
    return value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OSVError(f"{where} must be an object, not {_kind(value)}")
    return cast(Mapping[str, Any], value)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _severities(data: Mapping[str, Any], where: str) -> tuple[SeverityScore, ...]:
    items = []
    for i, raw in enumerate(_list(data, "severity", where)):
        item = _mapping(raw, f"{where}severity[{i}]")
        items.append(
            SeverityScore(
                type=_string(item.get("type"), f"{where}severity[{i}].type"),
                score=_string(item.get("score"), f"{where}severity[{i}].score"),
            )
        )
    return tuple(items)


def _event(raw: object, where: str) -> Event:
    event = _mapping(raw, where)
    if len(event) != 1:
        raise OSVError(f"{where} must have exactly one of {', '.join(EVENT_KINDS)}")
    ((kind, version),) = event.items()
    if kind not in EVENT_KINDS:
        raise OSVError(f"{where} has unknown event {kind!r}")
    return Event(kind=kind, version=_string(version, f"{where}.{kind}"))


def _range(raw: object, where: str) -> Range:
    rng = _mapping(raw, where)
    return Range(
        type=_string(rng.get("type"), f"{where}.type"),
        events=tuple(
            _event(event, f"{where}.events[{i}]")
            for i, event in enumerate(_list(rng, "events", f"{where}."))
        ),
    )


def _affected(raw: object, where: str) -> Affected | None:
    entry = _mapping(raw, where)
    package = entry.get("package")
    if package is None:
        # Entries without a package (GIT-only data for C libraries) can never match a dependency.
        return None
    package = _mapping(package, f"{where}.package")
    return Affected(
        ecosystem=_string(package.get("ecosystem"), f"{where}.package.ecosystem"),
        name=_string(package.get("name"), f"{where}.package.name"),
        ranges=tuple(
            _range(rng, f"{where}.ranges[{i}]")
            for i, rng in enumerate(_list(entry, "ranges", f"{where}."))
        ),
        versions=tuple(
            _string(version, f"{where}.versions[{i}]")
            for i, version in enumerate(_list(entry, "versions", f"{where}."))
        ),
        severity=_severities(entry, f"{where}."),
    )


def parse_record(data: object) -> Advisory:
    """Validate and convert one decoded OSV record; raises ``OSVError`` naming the bad field.

    ``database_specific``, ``ecosystem_specific``, ``credits`` and the like are dropped.
    """
    record = _mapping(data, "record")
    advisory_id = _string(record.get("id"), "id")
    if not advisory_id.strip():
        raise OSVError("id must not be empty")
    references = []
    for i, raw in enumerate(_list(record, "references", "")):
        ref = _mapping(raw, f"references[{i}]")
        references.append(
            Reference(
                type=_string(ref.get("type"), f"references[{i}].type"),
                url=_string(ref.get("url"), f"references[{i}].url"),
            )
        )
    affected = (
        _affected(raw, f"affected[{i}]") for i, raw in enumerate(_list(record, "affected", ""))
    )
    return Advisory(
        id=advisory_id,
        modified=_string(record.get("modified"), "modified"),
        aliases=tuple(
            _string(alias, f"aliases[{i}]") for i, alias in enumerate(_list(record, "aliases", ""))
        ),
        summary=_optional_string(record, "summary", "") or "",
        details=_optional_string(record, "details", "") or "",
        withdrawn=_optional_string(record, "withdrawn", ""),
        published=_optional_string(record, "published", ""),
        severity=_severities(record, ""),
        references=tuple(references),
        affected=tuple(entry for entry in affected if entry is not None),
    )


def parse_document(content: bytes, filename: str) -> Advisory:
    """Parse one record file; JSON for ``.json``, YAML otherwise. Raises ``OSVError``."""
    if filename.lower().endswith(".json"):
        try:
            data = json.loads(content)
        except (ValueError, RecursionError) as exc:
            raise OSVError(f"invalid JSON: {_one_line(str(exc))}") from exc
    else:
        try:
            data = yaml.load(content, Loader=_OSVLoader)  # noqa: S506 - a safe loader subclass
        except (yaml.YAMLError, RecursionError) as exc:
            raise OSVError(f"invalid YAML: {_one_line(str(exc))}") from exc
    return parse_record(data)


def _one_line(text: str) -> str:
    return " ".join(text.split())
