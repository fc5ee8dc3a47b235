"""Reference version orders for the tests, written from each ecosystem's published rules along
a different path than scanpulse's own (``scanpulse.advisories.versions``):

- SemVer 2.0.0 (npm, crates.io, Go, ``SEMVER`` ranges): the ``semver`` package.
- NuGet: the numeric parts compared as a tuple, the label through ``semver`` on a lowercased
  ``0.0.0-label``.
- Maven: maven-artifact's ``ComparableVersion`` (nested lists of items), which agrees with the
  specification scanpulse implements except where a ``.qualifier`` meets a ``-qualifier`` at
  the same position (``1-alpha`` against ``1.v20230217``); generated versions avoid that.
- RubyGems: the ``Gem::Version`` documentation: release segments without trailing zeros, a
  version with letters before its release, then its pre-release segments.
- Packagist: Composer's normalisation (four numeric parts, stability names) followed by a port
  of PHP's ``version_compare`` over the canonical string.

Each ``compare(ecosystem)`` returns a ``cmp(a, b) -> int`` and ``valid(ecosystem, text)`` says
whether the reference can order the text at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import semver

# --- SemVer -----------------------------------------------------------------------------------


def _semver(text: str) -> semver.Version | None:
    text = text.strip()
    if text.startswith("v"):
        text = text[1:]
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


def _semver_cmp(a: str, b: str) -> int:
    left, right = _semver(a), _semver(b)
    assert left is not None and right is not None
    return left.compare(right)


# --- NuGet ------------------------------------------------------------------------------------

_NUGET = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+.*)?")


def _nuget_parts(text: str) -> tuple[tuple[int, ...], str] | None:
    match = _NUGET.fullmatch(text.strip())
    if match is None:
        return None
    label = match.group(5) or ""
    if label and _semver(f"0.0.0-{label.lower()}") is None:
        return None
    return tuple(int(part or 0) for part in match.groups()[:4]), label.lower()


def _nuget_cmp(a: str, b: str) -> int:
    left, right = _nuget_parts(a), _nuget_parts(b)
    assert left is not None and right is not None
    if left[0] != right[0]:
        return -1 if left[0] < right[0] else 1
    if left[1] == right[1]:
        return 0
    if not left[1] or not right[1]:
        return 1 if not left[1] else -1
    return _semver_cmp(f"0.0.0-{left[1]}", f"0.0.0-{right[1]}")


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _text_compare(left: str, right: str) -> int:
    return (left > right) - (left < right)


# --- Maven (maven-artifact's ComparableVersion, ported) --------------------------------------------------------------------------------------

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


def _comparable_version(text: str) -> list[Any] | None:
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
    return items


def _maven_cmp(a: str, b: str) -> int:
    left, right = _comparable_version(a), _comparable_version(b)
    assert left is not None and right is not None
    return _maven_compare(left, right)


# --- RubyGems ---------------------------------------------------------------------------------

_GEM = re.compile(r"[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")


def _gem_key(text: str) -> tuple[tuple[int, ...], int, tuple[tuple[int, int | str], ...]]:
    text = text.strip().replace("-", ".pre.")
    pieces = re.findall(r"\d+|[a-zA-Z]+", text)
    release: list[int] = []
    while pieces and pieces[0].isdigit():
        release.append(int(pieces.pop(0)))
    while release and release[-1] == 0:
        release.pop()
    suffix: list[int | str] = [int(p) if p.isdigit() else p for p in pieces]
    while suffix and suffix[-1] == 0:
        suffix.pop()
    # In the suffix, a letter segment sorts before a number at the same position.
    keyed = tuple((1, p) if isinstance(p, int) else (0, p) for p in suffix)
    return tuple(release), 0 if suffix else 1, keyed


def _gem_cmp(a: str, b: str) -> int:
    left, right = _gem_key(a), _gem_key(b)
    return (left > right) - (left < right)


# --- Packagist (Composer + PHP version_compare) ---------------------------------------------------

_COMPOSER = re.compile(
    r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?"
    r"(?:[._-]?(stable|beta|b|RC|rc|alpha|a|patch|pl|p)((?:[.-]?\d+)*))?([.-]?dev)?",
    re.IGNORECASE,
)
_STABILITY_NAMES = {"b": "beta", "a": "alpha", "rc": "RC", "pl": "patch", "p": "patch"}


def _composer_normalize(text: str) -> str | None:
    match = _COMPOSER.fullmatch(text.strip())
    if match is None:
        return None
    numbers = ".".join(part or "0" for part in match.groups()[:4])
    stability, digits, dev = match.group(5), match.group(6), match.group(7)
    if stability:
        name = _STABILITY_NAMES.get(stability.lower(), stability.lower())
        if name == "stable":
            return numbers + ("-dev" if dev else "")
        numbers += f"-{name}{digits.lstrip('.-') if digits else ''}"
    if dev:
        numbers += "-dev"
    return numbers


_PHP_SPECIAL = [("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3)]
_PHP_SPECIAL += [("#", 4), ("pl", 5), ("p", 5)]


def _php_canonical(text: str) -> list[str]:
    out = ""
    for char in text:
        if char in "-_+":
            char = "."
        if out and out[-1] != "." and char != "." and (out[-1].isdigit() != char.isdigit()):
            out += "."
        out += char
    return [part for part in out.split(".") if part != ""]


def _php_form(form: str) -> int:
    for name, order in _PHP_SPECIAL:
        if form.startswith(name):
            return order
    return -6


def _php_part(a: str, b: str) -> int:
    if a.isdigit() and b.isdigit():
        return (int(a) > int(b)) - (int(a) < int(b))
    if not a.isdigit() and not b.isdigit():
        return (_php_form(a) > _php_form(b)) - (_php_form(a) < _php_form(b))
    if a.isdigit():
        return _php_part("#N#", b)
    return _php_part(a, "#N#")


def _php_version_compare(a: str, b: str) -> int:
    left, right = _php_canonical(a), _php_canonical(b)
    for mine, theirs in zip(left, right, strict=False):
        result = _php_part(mine, theirs)
        if result:
            return result
    if len(left) > len(right):
        extra = left[len(right)]
        return 1 if extra.isdigit() else _php_version_compare(extra, "#")
    if len(right) > len(left):
        extra = right[len(left)]
        return -1 if extra.isdigit() else _php_version_compare("#", extra)
    return 0


def _composer_cmp(a: str, b: str) -> int:
    left, right = _composer_normalize(a), _composer_normalize(b)
    assert left is not None and right is not None
    return _php_version_compare(left, right)


# --- dispatch ---------------------------------------------------------------------------------

_SEMVER_SCHEMES = ("npm", "crates.io", "Go", "SEMVER")


def valid(scheme: str, text: str) -> bool:
    if scheme in _SEMVER_SCHEMES:
        return _semver(text) is not None
    if scheme == "NuGet":
        return _nuget_parts(text) is not None
    if scheme == "Maven":
        return bool(text.strip()) and re.fullmatch(r"[!-+\--~]+", text.strip()) is not None
    if scheme == "RubyGems":
        return _GEM.fullmatch(text.strip()) is not None
    if scheme == "Packagist":
        return _composer_normalize(text) is not None
    raise ValueError(f"no reference order for {scheme}")


def compare(scheme: str) -> Callable[[str, str], int]:
    if scheme in _SEMVER_SCHEMES:
        return _semver_cmp
    return {
        "NuGet": _nuget_cmp,
        "Maven": _maven_cmp,
        "RubyGems": _gem_cmp,
        "Packagist": _composer_cmp,
    }[scheme]
