"""The upgrade that fixes a package version's advisories: the smallest version outside all of
their affected ranges, or, when none is, the one that fixes the most.

Only versions the advisories name can be recommended: the ``fixed`` events of their
``ECOSYSTEM``/``SEMVER`` ranges. A ``last_affected`` event says where a range ends but not which
version comes next, so it gives no candidate; nothing is ever guessed. Candidates are ordered
by the ecosystem's version order (PEP 440, SemVer) and each is checked against every advisory
with the matcher, so a version fixed on one release line but affected on another is not taken.

A pre-release (PEP 440 ``a``/``b``/``rc``/``.dev``, a SemVer ``-…`` version) is recommended only
when no release among the candidates fixes as many advisories: an advisory often names the
first release candidate that carried the fix, while the release that followed is what a team
should install (and a beta before a re-introduction may be affected again in the release).
``Upgrade.prerelease`` says when the recommendation is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scanpulse.advisories.matching import advisory_affects, advisory_fixed_versions
from scanpulse.advisories.osv import Advisory
from scanpulse.advisories.versions import SemVer, Version, VersionKey, parse_version


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The recommended upgrade of one package version affected by some advisories.

    ``version`` fixes every advisory when ``not_fixed`` is empty; otherwise it is the smallest
    version that fixes the most of them, or ``None`` when no listed version newer than the
    installed one fixes any. ``fixed`` and ``not_fixed`` are advisory ids, in the order given.
    """

    version: str | None
    fixed: tuple[str, ...]
    not_fixed: tuple[str, ...]
    # ``version`` is a pre-release: no release among the candidates fixes as many advisories.
    prerelease: bool = False

    @property
    def fixes_all(self) -> bool:
        return self.version is not None and not self.not_fixed


def upgrade_candidates(
    advisories: Sequence[Advisory], ecosystem: str, name: str, installed: str
) -> list[str]:
    """The fixed versions the advisories list for this package that are newer than
    ``installed``, lowest first, one spelling per version (the lowest in text order).

    Empty when ``installed`` is not a valid version of the ecosystem: nothing can be newer.
    """
    current = parse_version(ecosystem, installed)
    if current is None:
        return []
    found: dict[VersionKey, str] = {}
    for advisory in advisories:
        for text in advisory_fixed_versions(advisory, ecosystem, name):
            key = parse_version(ecosystem, text)
            if key is not None and key > current and (key not in found or text < found[key]):
                found[key] = text
    return [found[key] for key in sorted(found)]


def is_prerelease(ecosystem: str, version: str) -> bool:
    """Whether ``version`` is a pre-release (or a development release) in the ecosystem."""
    key = parse_version(ecosystem, version)
    if isinstance(key, Version):
        return key.is_prerelease
    if isinstance(key, SemVer):
        return bool(key.prerelease)
    return False


def best_upgrade(
    advisories: Sequence[Advisory], ecosystem: str, name: str, installed: str
) -> Upgrade:
    """The smallest release among the candidates (see :func:`upgrade_candidates`) that no
    advisory affects, else the smallest pre-release that none affects; when no candidate fixes
    them all, the one that fixes the most (a release before a pre-release, then the smallest;
    ``None`` if none fixes any)."""
    ids = tuple(advisory.id for advisory in advisories)
    best = Upgrade(None, (), ids)
    for candidate in upgrade_candidates(advisories, ecosystem, name, installed):
        prerelease = is_prerelease(ecosystem, candidate)
        if best.version is not None and (len(best.fixed), not best.prerelease) >= (
            len(ids),
            not prerelease,
        ):
            continue  # cannot do better than what was found: candidates only grow
        affected = [advisory_affects(a, ecosystem, name, candidate) for a in advisories]
        fixed = tuple(i for i, hit in zip(ids, affected, strict=True) if not hit)
        if (len(fixed), not prerelease) > (len(best.fixed), not best.prerelease) and fixed:
            best = Upgrade(
                candidate,
                fixed,
                tuple(i for i, hit in zip(ids, affected, strict=True) if hit),
                prerelease=prerelease,
            )
            if not best.not_fixed and not prerelease:
                break
    return best


def smallest_fixing_version(
    advisories: Sequence[Advisory], ecosystem: str, name: str, installed: str
) -> str | None:
    """The smallest listed version newer than ``installed`` that none of the advisories
    affects, or ``None`` when there is none."""
    upgrade = best_upgrade(advisories, ecosystem, name, installed)
    return upgrade.version if upgrade.fixes_all else None
