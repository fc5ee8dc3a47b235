"""Path globs of the repository configuration, with one meaning everywhere they are used.

A glob is matched against repository-relative POSIX paths (``src/app/views.py``), from the
root: there is no leading ``/`` and no ``./``.

- ``*`` matches any characters within one path segment (never a ``/``); ``?`` matches one.
- ``**`` as a whole segment matches zero or more segments: ``**/test_*.py`` matches
  ``test_a.py`` and ``a/b/test_a.py``; ``docs/**`` everything under ``docs``.
- A glob that matches a directory matches everything under it: ``docs`` and ``docs/**`` are
  the same, and ``**/migrations`` leaves out every ``migrations`` directory's files.
- A trailing ``/`` is allowed (``build/``) and changes nothing.

Anything else is a refused glob, with the reason: an empty glob or segment, a leading ``/``,
``.`` or ``..`` segments, a backslash, ``**`` inside a segment (``a**``), character classes
and braces (``[`` ``]`` ``{`` ``}``), which gitignore, fnmatch and shells read differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_GLOB_LENGTH = 1024
_UNSUPPORTED = set("[]{}")


class GlobError(ValueError):
    """A glob that cannot be used; the message says why."""


_ANY_SEGMENTS = "**"
# Segments with more '*' than this are matched without a regular expression: backtracking
# over many stars takes time exponential in their number, and globs come from repositories.
_REGEX_STARS = 2

SegmentMatcher = Callable[[str], bool]


def _wildcard(pattern: str) -> SegmentMatcher:
    """``*``/``?`` matching of one segment in O(len(pattern) * len(name)) at worst."""

    def match(name: str) -> bool:
        p = n = 0
        star, mark = -1, 0
        while n < len(name):
            if p < len(pattern) and pattern[p] in ("?", name[n]) and pattern[p] != "*":
                p, n = p + 1, n + 1
            elif p < len(pattern) and pattern[p] == "*":
                star, mark, p = p, n, p + 1
            elif star >= 0:
                mark += 1
                p, n = star + 1, mark
            else:
                return False
        return all(char == "*" for char in pattern[p:])

    return match


def _segment(segment: str) -> SegmentMatcher:
    if "**" in segment:
        raise GlobError("'**' must be a whole path segment (as in 'a/**/b')")
    if "*" not in segment and "?" not in segment:
        return segment.__eq__
    if segment.count("*") > _REGEX_STARS:
        return _wildcard(segment)
    parts = [
        "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in segment
    ]
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda name: regex.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Glob:
    pattern: str
    segments: tuple[SegmentMatcher | None, ...]  # None: '**'

    def matches(self, path: str) -> bool:
        """Whether the glob matches ``path`` or a directory it lies in: which path segments
        each glob segment can end at, segment by segment (no backtracking)."""
        names = path.split("/")
        reach = {0}  # how many path segments the glob's segments so far can have matched
        for matcher in self.segments:
            if matcher is None:
                reach = set(range(min(reach), len(names) + 1))
            else:
                reach = {j + 1 for j in reach if j < len(names) and matcher(names[j])}
            if not reach:
                return False
        return max(reach) >= 1


def compile_glob(pattern: str) -> Glob:
    """The glob ``pattern``; raises :class:`GlobError` for one that is refused."""
    if not pattern:
        raise GlobError("a glob may not be empty")
    if len(pattern) > MAX_GLOB_LENGTH:
        raise GlobError(f"a glob may have at most {MAX_GLOB_LENGTH} characters")
    if pattern.startswith("/"):
        raise GlobError("globs are relative to the repository root: drop the leading '/'")
    if "\\" in pattern:
        raise GlobError("use '/' between path segments, not '\\'")
    if any(ord(char) < 32 for char in pattern):
        raise GlobError("a glob may not contain control characters")
    unsupported = sorted(_UNSUPPORTED.intersection(pattern))
    if unsupported:
        raise GlobError(f"character classes and braces are not supported ({' '.join(unsupported)})")
    body = pattern[:-1] if pattern.endswith("/") else pattern
    segments: list[SegmentMatcher | None] = []
    for segment in body.split("/"):
        if segment in ("", ".", ".."):
            what = "an empty" if not segment else repr(segment)
            raise GlobError(f"a glob may not have {what} segment")
        if segment == _ANY_SEGMENTS:
            if segments and segments[-1] is None:
                continue  # '**/**' is '**'
            segments.append(None)
        else:
            segments.append(_segment(segment))
    return Glob(pattern, tuple(segments))


def matches_any(globs: Iterable[Glob], path: str) -> bool:
    return any(glob.matches(path) for glob in globs)
