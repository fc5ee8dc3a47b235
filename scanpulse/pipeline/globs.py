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
from collections.abc import Iterable
from dataclasses import dataclass

MAX_GLOB_LENGTH = 1024
_UNSUPPORTED = set("[]{}")


class GlobError(ValueError):
    """A glob that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Glob:
    pattern: str
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch("/" + path) is not None


def _segment(segment: str) -> str:
    if "**" in segment:
        raise GlobError("'**' must be a whole path segment (as in 'a/**/b')")
    out = []
    for char in segment:
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)


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
    parts = []
    for segment in body.split("/"):
        if segment in ("", ".", ".."):
            raise GlobError(
                f"a glob may not have {'an empty' if not segment else repr(segment)} segment"
            )
        # Each segment consumes its own leading '/': '**' then matches zero or more of them.
        parts.append("(?:/[^/]+)*" if segment == "**" else "/" + _segment(segment))
    # A match of a leading part of the path (a directory) matches everything under it.
    return Glob(pattern, re.compile("".join(parts) + "(?:/.*)?", re.DOTALL))


def matches_any(globs: Iterable[Glob], path: str) -> bool:
    return any(glob.matches(path) for glob in globs)
