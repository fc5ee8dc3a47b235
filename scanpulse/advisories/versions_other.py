"""Version orders of the ecosystems that are not SemVer or PEP 440, as OSV defines them.

- Maven: the Version Order Specification (maven.apache.org/pom.html), as OSV orders Maven
  versions: the version is split into tokens at ``.``, ``-`` and digit/letter transitions,
  trailing "null" tokens (``0``, ``""``, ``ga``, ``final``, ``release``) are dropped, and
  qualifiers order ``alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release
  < sp`` with any other qualifier after those, alphabetically; ``a1``/``b1``/``m1`` mean
  alpha/beta/milestone; ``.qualifier = -qualifier < -number < .number``.
- RubyGems: ``Gem::Version``: numeric and letter segments, any letter makes a pre-release that
  sorts before the release, trailing zeros do not count (``1.0 == 1``), ``-`` means ``.pre.``.
- NuGet: ``NuGetVersion``: one to four numeric parts (missing ones are 0), a SemVer-style
  pre-release label compared case-insensitively, build metadata ignored.
- Packagist: Composer's ``VersionParser`` normalisation (``v`` prefix dropped, up to four
  numeric parts padded with zeros, stability suffixes ``dev < alpha < beta < RC < stable <
  patch`` with their numbers) compared the way PHP's ``version_compare`` orders them.

Each parser returns ``None`` for a text that is not a version of its scheme. Parsed versions are
totally ordered among themselves, hashable, and equal exactly when the scheme calls them equal.
"""

from __future__ import annotations

import re
from typing import Any

# --- shared -------------------------------------------------------------------------------------


class _Ordered:
    """A version compared by ``_compare``; hash consistent with equality via ``_hash_key``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def _compare(self, other: Any) -> int:
        raise NotImplementedError

    def _hash_key(self) -> object:
        raise NotImplementedError

    def _check(self, other: object) -> bool:
        return type(other) is type(self)

    def __eq__(self, other: object) -> bool:
        if not self._check(other):
            return NotImplemented
        return self._compare(other) == 0

    def __hash__(self) -> int:
        return hash(self._hash_key())

    def __lt__(self, other: Any) -> bool:
        if not self._check(other):
            return NotImplemented
        return self._compare(other) < 0

    def __le__(self, other: Any) -> bool:
        if not self._check(other):
            return NotImplemented
        return self._compare(other) <= 0

    def __gt__(self, other: Any) -> bool:
        if not self._check(other):
            return NotImplemented
        return self._compare(other) > 0

    def __ge__(self, other: Any) -> bool:
        if not self._check(other):
            return NotImplemented
        return self._compare(other) >= 0

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _text_compare(left: str, right: str) -> int:
    return (left > right) - (left < right)


# --- Maven -------------------------------------------------------------------------------------
# The Version Order Specification of maven.apache.org/pom.html, which OSV's Maven ordering
# implements: tokens with their "." or "-" prefix, trailing nulls trimmed at the end and before
# every hyphen, compared with padding.

_MAVEN_QUALIFIERS = {
    "alpha": 0,
    "beta": 1,
    "milestone": 2,
    "rc": 3,
    "cr": 3,
    "snapshot": 4,
    "": 5,
    "final": 5,
    "ga": 5,
    "release": 5,
    "sp": 6,
}
_MAVEN_RELEASE_RANK = 5
_MAVEN_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}
# Printable ASCII without blanks or commas: anything else is not a version someone published.
_MAVEN_TEXT = re.compile(r"[!-+\--~]+")

# A token: its prefix ("." or "-") and its value, a number or a qualifier's sort key.
_MavenToken = tuple[str, int | tuple[int, str]]


def _maven_qualifier(value: str) -> tuple[int, str]:
    rank = _MAVEN_QUALIFIERS.get(value)
    # Unknown qualifiers come after the known ones, alphabetically among themselves.
    return (rank, "") if rank is not None else (len(_MAVEN_QUALIFIERS), value)


def _maven_null(value: int | tuple[int, str]) -> bool:
    return value == 0 or value == (_MAVEN_RELEASE_RANK, "")


def _maven_tokens(version: str) -> list[_MavenToken]:
    # Split at "." and "-" and where digits and letters meet (which counts as a hyphen); an
    # empty token is "0". "a", "b" and "m" directly followed by a number are alpha/beta/milestone.
    pieces: list[tuple[str, str, bool]] = []  # prefix, text, starts after a transition
    prefix, current, transition = ".", "", False
    for char in version:
        if char in ".-":
            pieces.append((prefix, current or "0", transition))
            prefix, current, transition = char, "", False
        elif current and current[-1].isdigit() != char.isdigit():
            pieces.append((prefix, current, transition))
            prefix, current, transition = "-", char, True
        else:
            current += char
    pieces.append((prefix, current or "0", transition))
    tokens: list[_MavenToken] = []
    for i, (sep, text, _) in enumerate(pieces):
        if text.isdigit():
            tokens.append((sep, int(text)))
            continue
        if text in _MAVEN_SHORT and i + 1 < len(pieces) and pieces[i + 1][2]:
            text = _MAVEN_SHORT[text]
        tokens.append((sep, _maven_qualifier(text)))
    while tokens and _maven_null(tokens[-1][1]):
        tokens.pop()
    i = len(tokens) - 1
    while i > 0:
        if tokens[i][0] == "-":
            while i > 0 and _maven_null(tokens[i - 1][1]):
                del tokens[i - 1]
                i -= 1
        i -= 1
    return tokens


def _maven_kind(token: _MavenToken) -> int:
    # ".qualifier" = "-qualifier" < "-number" < ".number"
    sep, value = token
    if not isinstance(value, int):
        return 0
    return 1 if sep == "-" else 2


def _maven_padding(token: _MavenToken) -> _MavenToken:
    return (token[0], 0 if isinstance(token[1], int) else (_MAVEN_RELEASE_RANK, ""))


class MavenVersion(_Ordered):
    __slots__ = ("tokens",)

    def __init__(self, text: str, tokens: list[_MavenToken]) -> None:
        super().__init__(text)
        self.tokens = tokens

    def _compare(self, other: MavenVersion) -> int:
        left, right = self.tokens, other.tokens
        for i in range(max(len(left), len(right))):
            mine = left[i] if i < len(left) else _maven_padding(right[i])
            theirs = right[i] if i < len(right) else _maven_padding(left[i])
            kinds = (_maven_kind(mine), _maven_kind(theirs))
            if kinds[0] != kinds[1]:
                return -1 if kinds[0] < kinds[1] else 1
            if mine[1] != theirs[1]:
                return -1 if mine[1] < theirs[1] else 1  # type: ignore[operator]
        return 0

    def _hash_key(self) -> object:
        # Equal versions have as many tokens, equal but for the prefix of qualifiers.
        return tuple((_maven_kind(token), token[1]) for token in self.tokens)


def parse_maven(text: str) -> MavenVersion | None:
    """Parse a Maven version (any non-blank printable ASCII text without commas is one)."""
    version = text.strip().lower()
    if not _MAVEN_TEXT.fullmatch(version):
        return None
    return MavenVersion(text, _maven_tokens(version))


# --- RubyGems -----------------------------------------------------------------------------------

_GEM_VERSION = re.compile(
    r"\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*", re.ASCII
)
_GEM_SEGMENT = re.compile(r"[0-9]+|[a-z]+", re.IGNORECASE)


class GemVersion(_Ordered):
    __slots__ = ("segments",)

    def __init__(self, text: str, segments: tuple[int | str, ...]) -> None:
        super().__init__(text)
        self.segments = segments

    @property
    def prerelease(self) -> bool:
        return any(isinstance(segment, str) for segment in self.segments)

    def _compare(self, other: GemVersion) -> int:
        left, right = self.segments, other.segments
        for i in range(max(len(left), len(right))):
            mine = left[i] if i < len(left) else 0
            theirs = right[i] if i < len(right) else 0
            if mine == theirs:
                continue
            if isinstance(mine, str) and isinstance(theirs, int):
                return -1
            if isinstance(mine, int) and isinstance(theirs, str):
                return 1
            return _sign(mine - theirs) if isinstance(mine, int) else _text_compare(mine, theirs)  # type: ignore[operator,arg-type]
        return 0

    def _hash_key(self) -> object:
        return self.segments


def _drop_trailing_zeros(segments: list[int | str]) -> list[int | str]:
    while segments and segments[-1] == 0:
        segments.pop()
    return segments


def parse_rubygems(text: str) -> GemVersion | None:
    """Parse as ``Gem::Version.new`` does; the segments are its ``canonical_segments``."""
    if not _GEM_VERSION.fullmatch(text):
        return None
    version = text.strip() or "0"
    version = version.replace("-", ".pre.")
    segments: list[int | str] = [
        int(part) if part.isdigit() else part for part in _GEM_SEGMENT.findall(version)
    ]
    first_letter = next(
        (i for i, part in enumerate(segments) if isinstance(part, str)), len(segments)
    )
    canonical = _drop_trailing_zeros(segments[:first_letter]) + _drop_trailing_zeros(
        segments[first_letter:]
    )
    return GemVersion(text, tuple(canonical))


# --- NuGet --------------------------------------------------------------------------------------

_NUGET_VERSION = re.compile(
    r"\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\s*",
    re.ASCII,
)


class NuGetVersion(_Ordered):
    __slots__ = ("key",)

    def __init__(self, text: str, key: tuple[Any, ...]) -> None:
        super().__init__(text)
        self.key = key

    def _compare(self, other: NuGetVersion) -> int:
        return (self.key > other.key) - (self.key < other.key)

    def _hash_key(self) -> object:
        return self.key


def parse_nuget(text: str) -> NuGetVersion | None:
    """Parse as ``NuGetVersion``: ``1``, ``1.2``, ``1.2.3`` and ``1.2.3.4`` with an optional
    label (``-beta.2``, ``-RC1``: compared case-insensitively, numeric identifiers as numbers)."""
    match = _NUGET_VERSION.fullmatch(text)
    if match is None:
        return None
    numbers = tuple(int(part or 0) for part in match.groups()[:4])
    label = match.group(5)
    if not label:
        return NuGetVersion(text, (numbers, 1, ()))
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.upper()) for part in label.split(".")
    )
    return NuGetVersion(text, (numbers, 0, identifiers))


# --- Packagist (Composer) -----------------------------------------------------------------------

_COMPOSER_VERSION = re.compile(
    r"\s*v?(\d+(?:\.\d+){0,3})"
    r"(?:[._-]?(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*))?"
    r"([.-]?dev)?\s*",
    re.IGNORECASE | re.ASCII,
)
_COMPOSER_STABILITY = {
    "dev": 0,
    "alpha": 1,
    "a": 1,
    "beta": 2,
    "b": 2,
    "rc": 3,
    "stable": 4,
    "patch": 5,
    "pl": 5,
    "p": 5,
}


class ComposerVersion(_Ordered):
    __slots__ = ("key",)

    def __init__(self, text: str, key: tuple[Any, ...]) -> None:
        super().__init__(text)
        self.key = key

    def _compare(self, other: ComposerVersion) -> int:
        return (self.key > other.key) - (self.key < other.key)

    def _hash_key(self) -> object:
        return self.key


def parse_composer(text: str) -> ComposerVersion | None:
    """Parse a Composer version (``1.2.3``, ``v1.2.3``, ``1.2.3.4``, ``1.0.0-beta2``,
    ``2.0.0-RC1``, ``1.0.0-p1``, ``1.0.0-dev``); branches (``dev-main``, ``1.x-dev``) are not
    versions and give ``None``."""
    match = _COMPOSER_VERSION.fullmatch(text)
    if match is None:
        return None
    release, stability, numbers, dev = match.groups()
    parts = [int(part) for part in release.split(".")]
    while parts and parts[-1] == 0:  # Composer pads to four parts: 1.2 = 1.2.0 = 1.2.0.0
        parts.pop()
    if stability is None:
        rank = _COMPOSER_STABILITY["dev"] if dev else _COMPOSER_STABILITY["stable"]
        return ComposerVersion(text, (tuple(parts), rank, (), 1))
    suffix = tuple(int(part) for part in re.findall(r"\d+", numbers or ""))
    rank = _COMPOSER_STABILITY[stability.lower()]
    return ComposerVersion(text, (tuple(parts), rank, suffix, 0 if dev else 1))
