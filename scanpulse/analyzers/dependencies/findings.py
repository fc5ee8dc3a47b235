"""The findings of the dependencies analyzer: one per vulnerable package version, listing its
advisories and the upgrade that fixes them, and one per unpinned requirement.

Severity comes from the advisory's CVSS v3 base score (≥9 critical, ≥7 high, ≥4 medium, >0 low,
0 info) and is "high" when no CVSS v3 vector is given; a vulnerable package version takes the
highest severity of its advisories.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scanpulse.advisories.cvss import cvss3_base_score
from scanpulse.advisories.matching import advisory_affects, advisory_fixed_versions, entries_for
from scanpulse.advisories.osv import Advisory
from scanpulse.advisories.upgrades import Upgrade, best_upgrade, upgrade_candidates
from scanpulse.advisories.versions import SCHEME_NAMES, parse_version
from scanpulse.analyzers.base import AnalyzerFinding, Rule, Severity, severity_rank
from scanpulse.analyzers.dependencies.manifests import Dependency

VULNERABLE_RULE_ID = "SP-DEP-VULNERABLE"
UNPINNED_RULE_ID = "SP-DEP-UNPINNED"
_TITLE_LENGTH = 200

VULNERABLE_RULE = Rule(
    id=VULNERABLE_RULE_ID,
    name="VulnerableDependency",
    short_description="Dependency version has known vulnerabilities",
    full_description=(
        "Security advisories (OSV) affect the pinned version of this package. The result lists "
        "every advisory (properties.advisories) and names the smallest version that fixes all "
        "of them."
    ),
    help_text=(
        "Upgrade the package to the version the result names (properties.upgrade_to); when no "
        "listed version fixes every advisory, the result says which ones the best upgrade "
        "leaves, and those need another remedy (a workaround the advisory describes, or "
        "replacing the package). Each advisory's page is linked in properties.advisories."
    ),
    default_severity="high",
    tags=("security", "dependencies", "vulnerability"),
)

UNPINNED_RULE = Rule(
    id=UNPINNED_RULE_ID,
    name="UnpinnedDependency",
    short_description="Dependency version is not pinned",
    full_description=(
        "The manifest allows a range of versions, so the version that gets installed is not "
        "known and cannot be checked against security advisories."
    ),
    help_text=(
        "Pin the exact version (name==1.2.3) or commit a lock file (poetry.lock, uv.lock, "
        "Pipfile.lock, package-lock.json) next to the manifest: a requirement that another "
        "manifest in the same directory pins is checked through that pin and not reported."
    ),
    default_severity="info",
    tags=("security", "dependencies"),
)


def cvss_severity(score: float) -> Severity:
    """The CVSS v3 qualitative rating of a base score ("None" becomes info)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "info"


def advisory_severity(advisory: Advisory, ecosystem: str, name: str) -> Severity:
    """Highest CVSS v3 rating among the advisory's and this package's vectors, else "high"."""
    vectors = [*advisory.severity]
    for entry in entries_for(advisory, ecosystem, name):
        vectors.extend(entry.severity)
    scores = [
        score
        for score in (cvss3_base_score(item.score) for item in vectors if item.type == "CVSS_V3")
        if score is not None
    ]
    return cvss_severity(max(scores)) if scores else "high"


def advisory_title(advisory: Advisory) -> str:
    """The summary, else the first sentence of the details, on one line and at most 200 chars."""
    text = " ".join((advisory.summary or advisory.details).split())
    if not advisory.summary:
        end = text.find(". ")
        if 0 < end < _TITLE_LENGTH:
            text = text[:end]
    if len(text) > _TITLE_LENGTH:
        text = text[:_TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text.rstrip(".") or advisory.id


def advisory_url(advisory: Advisory) -> str:
    """The record's advisory (else web) reference, else its page on osv.dev."""
    return next(
        (
            ref.url
            for kind in ("ADVISORY", "WEB")
            for ref in advisory.references
            if ref.type == kind
        ),
        f"https://osv.dev/vulnerability/{advisory.id}",
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word[:-1]}ies"


def _ids(advisory: Advisory) -> str:
    return f"{advisory.id} ({', '.join(advisory.aliases)})" if advisory.aliases else advisory.id


def _listing(advisories: Sequence[Advisory]) -> str:
    """One advisory with its aliases and title; several by their ids (properties list the
    aliases and titles: a message stays readable in a list)."""
    if len(advisories) == 1:
        return f"{_ids(advisories[0])}, {advisory_title(advisories[0])}"
    return ", ".join(advisory.id for advisory in advisories)


def _newer_fixes(advisory: Advisory, ecosystem: str, name: str, version: str) -> list[str]:
    return upgrade_candidates([advisory], ecosystem, name, version)


def vulnerable_message(
    name: str, version: str, ecosystem: str, advisories: Sequence[Advisory], upgrade: Upgrade
) -> str:
    """``upgrade django 3.2.0 → 3.2.25 fixes 25 advisories: …`` or, when no listed version fixes
    them all, what the best upgrade fixes and what it leaves, and why."""
    count = len(advisories)
    target = upgrade.version
    if target is not None and upgrade.prerelease:
        target += " (a pre-release: no release listed fixes " + (
            "it)"
            if upgrade.fixes_all and count == 1
            else "them)"
            if upgrade.fixes_all
            else "as many)"
        )
    if upgrade.version is not None and upgrade.fixes_all:
        return (
            f"upgrade {name} {version} → {target} fixes "
            f"{_plural(count, 'advisory')}: {_listing(advisories)}"
        )
    if upgrade.version is None:
        if parse_version(ecosystem, version) is None:
            scheme = SCHEME_NAMES.get(ecosystem, ecosystem)
            why = f"no upgrade can be named, {version!r} is not a valid {scheme} version"
        elif any(_newer_fixes(advisory, ecosystem, name, version) for advisory in advisories):
            why = f"no listed version newer than {version} fixes any of them"
        else:
            why = f"no fixed version newer than {version} is listed"
        return (
            f"{name} {version} is affected by {_plural(count, 'advisory')}: "
            f"{_listing(advisories)}; {why}"
        )
    by_id = {advisory.id: advisory for advisory in advisories}
    left = []
    for identifier in upgrade.not_fixed:
        newer = _newer_fixes(by_id[identifier], ecosystem, name, version)
        reason = f"fixed in {', '.join(newer)}" if newer else "no fixed version listed"
        left.append(f"{identifier} ({reason})")
    fixed = [by_id[identifier] for identifier in upgrade.fixed]
    return (
        f"upgrade {name} {version} → {target} fixes {len(fixed)} of "
        f"{_plural(count, 'advisory')}: {_listing(fixed)}; not fixed by {upgrade.version}: "
        + ", ".join(left)
    )


def _advisory_properties(advisory: Advisory, ecosystem: str, name: str) -> dict[str, Any]:
    return {
        "id": advisory.id,
        "aliases": list(advisory.aliases),
        "summary": advisory_title(advisory),
        "severity": advisory_severity(advisory, ecosystem, name),
        "fixed_versions": advisory_fixed_versions(advisory, ecosystem, name),
        # when it became known: its publication, else its last change (quality gates age by it)
        "published": advisory.published or advisory.modified,
        "url": advisory_url(advisory),
    }


def vulnerable_finding(
    occurrences: Sequence[Dependency],
    version: str,
    advisories: Sequence[Advisory],
    known: Sequence[Advisory] = (),
) -> AnalyzerFinding:
    """The one finding of a package version pinned in one manifest (at its first line there)
    that ``advisories`` affect: its identity is the manifest, ecosystem, package and version.

    ``known`` are all the package's advisories: those that do not affect this version but do
    affect the upgrade are named, so that an upgrade is never presented as the end of it."""
    dep = min(occurrences, key=lambda item: (item.line is None, item.line or 0))
    ecosystem, name = dep.ecosystem, dep.normalized_name
    listed = [_advisory_properties(advisory, ecosystem, name) for advisory in advisories]
    severity = min((item["severity"] for item in listed), key=severity_rank)
    upgrade = best_upgrade(advisories, ecosystem, dep.name, version)
    ids = {advisory.id for advisory in advisories}
    introduced = (
        [
            advisory.id
            for advisory in known
            if advisory.id not in ids
            and advisory_affects(advisory, ecosystem, dep.name, upgrade.version)
        ]
        if upgrade.version is not None
        else []
    )
    message = vulnerable_message(name, version, ecosystem, advisories, upgrade)
    if introduced:
        message += f"; {upgrade.version} is affected by {', '.join(introduced)} in turn"
    properties: dict[str, Any] = {
        "package": name,
        "version": version,
        "ecosystem": ecosystem,
        "manifest": dep.path,
        "direct": any(item.direct for item in occurrences),
        "advisory_count": len(advisories),
        "advisory_ids": [i for advisory in advisories for i in (advisory.id, *advisory.aliases)],
        "upgrade_to": upgrade.version,
        "upgrade_fixes_all": upgrade.fixes_all,
        "upgrade_is_prerelease": upgrade.prerelease,
        "not_fixed_by_upgrade": list(upgrade.not_fixed),
        "upgrade_affected_by": introduced,
        "advisories": listed,
    }
    return AnalyzerFinding(
        rule_id=VULNERABLE_RULE_ID,
        severity=severity,
        confidence="high",
        path=dep.path,
        start_line=dep.line,
        end_line=dep.line,
        message=message,
        # The identity: the pipeline hashes tool, rule, path and this; no line number.
        snippet=f"{ecosystem}:{name}@{version}",
        properties=properties,
    )


def unpinned_finding(dep: Dependency) -> AnalyzerFinding:
    requirement = dep.requirement()
    return AnalyzerFinding(
        rule_id=UNPINNED_RULE_ID,
        severity="info",
        confidence="high",
        path=dep.path,
        start_line=dep.line,
        end_line=dep.line,
        message=f"{requirement} is not pinned; cannot be checked against advisories",
        snippet=requirement,
        properties={
            "package": dep.normalized_name,
            "ecosystem": dep.ecosystem,
            "spec": dep.spec,
            "manifest": dep.path,
            "direct": dep.direct,
        },
    )
