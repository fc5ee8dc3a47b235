"""Version ordering per ecosystem, as the advisory matcher needs it (the OSV schema's rules).

PyPI versions follow PEP 440 (``packaging.version``); npm, crates.io, Go and OSV ``SEMVER``
ranges follow SemVer 2.0.0 precedence (a leading ``v`` tolerated, so Go's ``v1.2.3`` and
pseudo-versions parse); Maven follows Maven's ``ComparableVersion``, RubyGems ``Gem::Version``,
NuGet ``NuGetVersion`` and Packagist Composer's normalisation with PHP's ``version_compare``
order (``versions_other``). A version that cannot be parsed is "not comparable" (``None``),
never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from packaging.version import InvalidVersion, Version

from scanpulse.advisories.versions_other import (
    parse_composer,
    parse_maven,
    parse_nuget,
    parse_rubygems,
)

PYPI = "PyPI"
NPM = "npm"
GO = "Go"
CRATES_IO = "crates.io"
MAVEN = "Maven"
RUBYGEMS = "RubyGems"
NUGET = "NuGet"
PACKAGIST = "Packagist"

# The ecosystems (and range type) whose versions can be ordered.
ORDERED_SCHEMES = frozenset({PYPI, NPM, GO, CRATES_IO, MAVEN, RUBYGEMS, NUGET, PACKAGIST, "SEMVER"})

# A partial version ("1", "1.0") in an npm or crates.io range. The GitHub Advisory Database
# writes these ranges from the registries' requirement syntax, in which a partial bound means
# the first release it names: ">= 1.0" is ">= 1.0.0" and "< 1.0" is "< 1.0.0", in npm's
# node-semver and Cargo's semver alike. So an ``introduced`` or ``fixed`` "1.0" is read as
# 1.0.0 (a pre-release of 1.0.0 itself counts as below a fixed 1.0.0, i.e. as affected: the
# cautious side of the one case where the two tools differ). A ``last_affected`` or ``limit``
# "1.0" ("<= 1.0": every 1.0.x in both tools) and a listed version "0.20" (a release line, not
# a published version) name no single version: those are not guessed (reported, not matched).
PARTIAL_BOUND_SCHEMES = frozenset({NPM, CRATES_IO})
_PARTIAL = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.(?:0|[1-9][0-9]{0,8}))?")


def is_partial(scheme: str, text: str) -> bool:
    """Whether ``text`` is a partial version ("1", "1.0") of an npm or crates.io range."""
    return scheme in PARTIAL_BOUND_SCHEMES and _PARTIAL.fullmatch(text) is not None


def padded_bound(scheme: str, kind: str, text: str) -> str | None:
    """The release a partial ``introduced`` or ``fixed`` bound means ("1.0" → "1.0.0"), or
    None when ``text`` is not one (see ``PARTIAL_BOUND_SCHEMES``)."""
    if kind not in ("introduced", "fixed") or not is_partial(scheme, text):
        return None
    return text + ".0" * (2 - text.count("."))


# How a version scheme is called in messages ("… is not a valid SemVer version").
SCHEME_NAMES = {
    PYPI: "PEP 440",
    NPM: "SemVer",
    GO: "Go module (SemVer)",
    CRATES_IO: "SemVer",
    MAVEN: "Maven",
    RUBYGEMS: "RubyGems",
    NUGET: "NuGet",
    PACKAGIST: "Composer",
    "SEMVER": "SemVer",
}


class VersionKey(Protocol):
    """A parsed version: totally ordered against other keys of the same scheme."""

    def __lt__(self, other: Any, /) -> bool: ...
    def __le__(self, other: Any, /) -> bool: ...
    def __gt__(self, other: Any, /) -> bool: ...
    def __ge__(self, other: Any, /) -> bool: ...


# The regular expression suggested by semver.org, with an optional leading "v" (npm tolerates it).
_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)

# A prerelease identifier as a sort key: numeric identifiers (0, n) sort before alphanumeric
# ones (1, s), numerically among themselves and in ASCII order otherwise.
_Identifier = tuple[int, int] | tuple[int, str]


@dataclass(frozen=True, slots=True, eq=False)
class SemVer:
    """A SemVer 2.0.0 version; build metadata is kept for display but ignored for precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    def _key(self) -> tuple[int, int, int, tuple[int, tuple[_Identifier, ...]]]:
        # A release outranks all of its prereleases; tuple comparison gives "a larger set of
        # prerelease fields has a higher precedence when all preceding ones are equal".
        if not self.prerelease:
            return (self.major, self.minor, self.patch, (1, ()))
        identifiers: tuple[_Identifier, ...] = tuple(
            (0, int(part)) if part.isdigit() else (1, part) for part in self.prerelease
        )
        return (self.major, self.minor, self.patch, (0, identifiers))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __le__(self, other: SemVer) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: SemVer) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: SemVer) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + self.build
        return text


def parse_semver(text: str) -> SemVer | None:
    """Parse a SemVer 2.0.0 version (a leading ``v`` is tolerated); ``None`` if it is not one."""
    match = _SEMVER_RE.fullmatch(text.strip())
    if match is None:
        return None
    major, minor, patch, prerelease, build = match.groups()
    return SemVer(
        int(major),
        int(minor),
        int(patch),
        tuple(prerelease.split(".")) if prerelease else (),
        build or "",
    )


def parse_pep440(text: str) -> Version | None:
    """Parse a PEP 440 version; ``None`` if it is not one."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def parse_version(scheme: str, text: str) -> VersionKey | None:
    """Parse ``text`` under an ecosystem's ordering.

    ``scheme`` is an OSV ecosystem name (``"PyPI"``, ``"npm"``) or the range type ``"SEMVER"``.
    Returns ``None`` when the version is not valid for the scheme or the scheme is unsupported:
    such a version cannot be compared, only matched by exact spelling.
    """
    if scheme == PYPI:
        return parse_pep440(text)
    if scheme in (NPM, "SEMVER", GO, CRATES_IO):
        return parse_semver(text)
    if scheme == MAVEN:
        return parse_maven(text)
    if scheme == RUBYGEMS:
        return parse_rubygems(text)
    if scheme == NUGET:
        return parse_nuget(text)
    if scheme == PACKAGIST:
        return parse_composer(text)
    return None
