"""Reference version orders for the tests, written from each ecosystem's published rules along
a different path than scanpulse's own (``scanpulse.advisories.versions``):

- SemVer 2.0.0 (npm, crates.io, Go, ``SEMVER`` ranges): the ``semver`` package.
- NuGet: the numeric parts compared as a tuple, the label through ``semver`` on a lowercased
  ``0.0.0-label``.
- Maven: the "Version Order Specification" of maven.apache.org/pom.html as a flat token list
  (prefix ``.``/``-`` and value), trimmed at the end and before each hyphen, compared with
  padding: ``.qualifier = -qualifier < -number < .number``.
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


# --- Maven (pom.html, Version Order Specification) ------------------------------------------------

_MAVEN_ORDER = {
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
_MAVEN_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

Token = tuple[str, int | str]  # prefix, value


def _maven_tokens(text: str) -> list[Token]:
    text = text.strip().lower()
    raw: list[tuple[str, str, bool]] = []  # prefix, text, whether it follows a transition
    prefix, current, transition = ".", "", False
    for char in text:
        if char in ".-":
            raw.append((prefix, current or "0", transition))
            prefix, current, transition = char, "", False
        elif current and current[-1].isdigit() != char.isdigit():
            raw.append((prefix, current, transition))
            prefix, current, transition = "-", char, True  # a transition is a hyphen
        else:
            current += char
    raw.append((prefix, current or "0", transition))
    tokens: list[Token] = []
    for i, (pre, value, _) in enumerate(raw):
        if value.isdigit():
            tokens.append((pre, int(value)))
            continue
        following = raw[i + 1] if i + 1 < len(raw) else None
        # "a", "b", "m" mean alpha, beta, milestone when directly followed by a number (a1)
        if value in _MAVEN_SHORT and following is not None and following[2]:
            value = _MAVEN_SHORT[value]
        tokens.append((pre, value))
    return _maven_trim(tokens)


def _is_null(value: int | str) -> bool:
    return value == 0 or (isinstance(value, str) and _MAVEN_ORDER.get(value) == 5)


def _maven_trim(tokens: list[Token]) -> list[Token]:
    while tokens and _is_null(tokens[-1][1]):
        tokens.pop()
    i = len(tokens) - 1
    while i > 0:
        if tokens[i][0] == "-":
            while i > 0 and _is_null(tokens[i - 1][1]):
                del tokens[i - 1]
                i -= 1
        i -= 1
    return tokens


def _qualifier_key(value: str) -> tuple[int, str]:
    return (_MAVEN_ORDER[value], "") if value in _MAVEN_ORDER else (7, value)


def _kind(token: Token) -> int:
    prefix, value = token
    if isinstance(value, str):
        return 0
    return 1 if prefix == "-" else 2


def _maven_cmp(a: str, b: str) -> int:
    left, right = _maven_tokens(a), _maven_tokens(b)
    for i in range(max(len(left), len(right))):
        mine = left[i] if i < len(left) else None
        theirs = right[i] if i < len(right) else None
        if mine is None:
            assert theirs is not None
            mine = (theirs[0], 0 if isinstance(theirs[1], int) else "")
        if theirs is None:
            theirs = (mine[0], 0 if isinstance(mine[1], int) else "")
        kinds = (_kind(mine), _kind(theirs))
        if kinds[0] != kinds[1]:
            return -1 if kinds[0] < kinds[1] else 1
        if isinstance(mine[1], int) and isinstance(theirs[1], int):
            if mine[1] != theirs[1]:
                return -1 if mine[1] < theirs[1] else 1
        else:
            left_key, right_key = _qualifier_key(str(mine[1])), _qualifier_key(str(theirs[1]))
            if left_key != right_key:
                return -1 if left_key < right_key else 1
    return 0


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
