"""Version orders of the ecosystems that are not SemVer or PEP 440, as OSV defines them.

- Maven: Maven's ``ComparableVersion`` (maven-artifact 3.x): the version is split into items at
  ``.``, ``-`` and digit/letter transitions, trailing "null" items (``0``, ``""``, ``ga``,
  ``final``, ``release``) are dropped, and qualifiers order
  ``alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`` with
  any other qualifier after those, alphabetically; ``a1``/``b1``/``m1`` mean alpha/beta/milestone.
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


# --- Maven --------------------------------------------------------------------------------------

_MAVEN_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_MAVEN_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_MAVEN_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}
_MAVEN_RELEASE = str(_MAVEN_QUALIFIERS.index(""))
# Printable ASCII without blanks or commas: anything else is not a version someone published.
_MAVEN_TEXT = re.compile(r"[!-+\--~]+")

# An item is an int, a qualifier (its comparable form, a str) or a list of items.
_MavenItem = int | str | list[Any]


def _maven_qualifier(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and len(value) == 1:
        value = _MAVEN_SHORT.get(value, value)
    value = _MAVEN_ALIASES.get(value, value)
    if value in _MAVEN_QUALIFIERS:
        return str(_MAVEN_QUALIFIERS.index(value))
    # Unknown qualifiers sort after the known ones, alphabetically among themselves.
    return f"{len(_MAVEN_QUALIFIERS)}-{value}"


def _maven_item(is_digit: bool, text: str) -> _MavenItem:
    return int(text) if is_digit else _maven_qualifier(text, followed_by_digit=False)


def _maven_is_null(item: _MavenItem) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, str):
        return item == _MAVEN_RELEASE
    return not item


def _maven_normalize(items: list[Any]) -> None:
    for i in range(len(items) - 1, -1, -1):
        if _maven_is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], list):
            break


def _maven_compare(left: _MavenItem, right: _MavenItem | None) -> int:
    if isinstance(left, int):
        if right is None:
            return 0 if left == 0 else 1
        if isinstance(right, int):
            return _sign(left - right)
        return 1
    if isinstance(left, str):
        if right is None:
            return _text_compare(left, _MAVEN_RELEASE)
        if isinstance(right, int):
            return -1
        if isinstance(right, str):
            return _text_compare(left, right)
        return -1
    if right is None:
        return _maven_compare(left[0], None) if left else 0
    if isinstance(right, int):
        return -1
    if isinstance(right, str):
        return 1
    for i in range(max(len(left), len(right))):
        mine = left[i] if i < len(left) else None
        theirs = right[i] if i < len(right) else None
        if mine is None:
            result = 0 if theirs is None else -_maven_compare(theirs, None)
        else:
            result = _maven_compare(mine, theirs)
        if result:
            return result
    return 0


class MavenVersion(_Ordered):
    __slots__ = ("items",)

    def __init__(self, text: str, items: list[Any]) -> None:
        super().__init__(text)
        self.items = items

    def _compare(self, other: MavenVersion) -> int:
        return _maven_compare(self.items, other.items)

    def _hash_key(self) -> object:
        # Coarse but consistent with equality: equal versions start with the same number.
        first = self.items[0] if self.items else 0
        return first if isinstance(first, int) else 0


def parse_maven(text: str) -> MavenVersion | None:
    """Parse as Maven's ``ComparableVersion`` does (any non-blank ASCII text is a version)."""
    version = text.strip().lower()
    if not _MAVEN_TEXT.fullmatch(version):
        return None
    items: list[Any] = []
    current = items
    stack = [items]
    is_digit = False
    start = 0

    def open_list() -> list[Any]:
        new: list[Any] = []
        current.append(new)
        stack.append(new)
        return new

    for i, char in enumerate(version):
        if char in ".-":
            current.append(0 if i == start else _maven_item(is_digit, version[start:i]))
            start = i + 1
            if char == "-":
                current = open_list()
        elif "0" <= char <= "9":
            if not is_digit and i > start:
                current.append(_maven_qualifier(version[start:i], followed_by_digit=True))
                start = i
                current = open_list()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_maven_item(True, version[start:i]))
                start = i
                current = open_list()
            is_digit = False
    if len(version) > start:
        current.append(_maven_item(is_digit, version[start:]))
    while stack:
        _maven_normalize(stack.pop())
    return MavenVersion(text, items)


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
