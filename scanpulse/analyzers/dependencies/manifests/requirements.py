"""pip requirements files (``requirements*.txt``, pip-tools' ``requirements*.in``), with their
``-r``/``-c`` includes followed inside the checkout.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from .pep508 import pep508
from .reading import decode
from .results import IncludeReader, ManifestResult, show

# Real projects nest two or three levels; the bound keeps a hostile chain from recursing deeply.
MAX_INCLUDE_DEPTH = 16
_INCLUDE_OPTIONS = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
_EDITABLE_OPTIONS = ("-e", "--editable")
# Global pip options that do not change which versions get installed in a way we can check.
_IGNORED_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--no-binary",
        "--only-binary",
        "--prefer-binary",
        "--require-hashes",
        "--pre",
        "--trusted-host",
        "--use-feature",
    }
)
_PER_REQUIREMENT_OPTIONS = ("--hash", "--global-option", "--config-settings", "--install-option")
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_LONG_OPTION = re.compile(r"(--[^=\s]+)\s*=?\s*(.*)", re.DOTALL)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _strip_comment(line: str) -> str:
    r"""Drop a ``#`` comment: one at the start of the line or after whitespace, as pip does.

    A plain loop rather than pip's regex ``(^|\s+)#.*$``, which backtracks quadratically on a
    long run of whitespace.
    """
    position = line.find("#")
    while position != -1:
        if position == 0 or line[position - 1].isspace():
            return line[:position]
        position = line.find("#", position + 1)
    return line


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join ``\\`` continuations like pip does; yields (first physical line number, text)."""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        # pip: a comment line never continues, even if it ends with a backslash.
        if line.endswith("\\") and _strip_comment(line) == line:
            if not pending:
                start = number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(line)
            yield start, "".join(pending)
            pending = []
        else:
            yield number, line
    if pending:
        yield start, "".join(pending)


def _split_option(line: str) -> tuple[str, str]:
    """``"--opt=value"``/``"--opt value"``/``"-rvalue"``/``"-r value"`` → (option, value)."""
    match = _LONG_OPTION.fullmatch(line)
    if match is not None:
        return match.group(1), match.group(2).strip()
    return line[:2], line[2:].strip()


def parse_requirements(
    data: str | bytes, path: str, *, include: IncludeReader | None = None
) -> ManifestResult:
    """A pip requirements file: ``==``/``===`` pins, with ``-r``/``-c`` includes followed.

    Includes are resolved relative to the including file and read through ``include``; paths
    leaving the checkout, cycles and missing files give a message. Entries of constraint files
    are reported with ``direct=False``, and only when pinned (a constraint installs nothing).
    """
    result = ManifestResult()
    _read_requirements(data, path, include, result, (path,), constraint=False)
    return result


def _read_requirements(
    data: str | bytes,
    path: str,
    include: IncludeReader | None,
    result: ManifestResult,
    chain: tuple[str, ...],
    *,
    constraint: bool,
) -> None:
    text = decode(data, path, result)
    if text is None:
        return
    for number, raw in _logical_lines(text):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        where = f"{path}:{number}"
        if line.startswith("-") and not line.startswith(_PER_REQUIREMENT_OPTIONS):
            option, value = _split_option(line)
            if option in _INCLUDE_OPTIONS:
                nested = constraint or _INCLUDE_OPTIONS[option]
                _follow_include(value, where, path, include, result, chain, constraint=nested)
            elif option in _EDITABLE_OPTIONS:
                result.messages.append(
                    f"{where}: editable requirement {show(value)} cannot be checked against advisories"
                )
            elif option not in _IGNORED_OPTIONS:
                result.messages.append(f"{where}: unknown option {show(option)} ignored")
            continue
        _requirement_line(line, where, path, number, result, constraint=constraint)


def _follow_include(
    target: str,
    where: str,
    path: str,
    include: IncludeReader | None,
    result: ManifestResult,
    chain: tuple[str, ...],
    *,
    constraint: bool,
) -> None:
    target = target.strip().strip("\"'")
    if not target:
        result.messages.append(f"{where}: include option without a file name")
        return
    if _URL.match(target):
        result.messages.append(f"{where}: remote requirements file {show(target)} not followed")
        return
    relative = target.replace("\\", "/")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), relative))
    if relative.startswith("/") or resolved == ".." or resolved.startswith("../"):
        result.messages.append(f"{where}: {show(target)} is outside the checkout; not followed")
        return
    if len(chain) > MAX_INCLUDE_DEPTH:
        result.messages.append(
            f"{where}: includes nested more than {MAX_INCLUDE_DEPTH} deep; {show(target)} not followed"
        )
        return
    if resolved in chain:
        cycle = " -> ".join((*chain, resolved))
        result.messages.append(f"{where}: include cycle {cycle}; not followed")
        return
    content = include(resolved) if include is not None else None
    if content is None:
        result.messages.append(f"{where}: included file {show(resolved)} not found")
        return
    _read_requirements(
        content, resolved, include, result, (*chain, resolved), constraint=constraint
    )


def _requirement_line(
    line: str, where: str, path: str, number: int, result: ManifestResult, *, constraint: bool
) -> None:
    # pip: the requirement ends at the first whitespace-separated token starting with "-".
    tokens = line.split()
    cut = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    text = " ".join(tokens[:cut])
    for option in tokens[cut:]:
        name = option.split("=", 1)[0]
        if name.startswith("-") and name not in _PER_REQUIREMENT_OPTIONS:
            result.messages.append(f"{where}: unknown option {show(name)} ignored")
    if not text:
        return
    location = text.split(";", 1)[0].strip()
    if _URL.match(location) or _looks_like_path(location):
        result.messages.append(
            f"{where}: URL or local-path requirement {show(text)} cannot be checked against advisories"
        )
        return
    dependency = pep508(text, where, path, number, result, direct=not constraint)
    if dependency is not None and (dependency.version is not None or not constraint):
        result.dependencies.append(dependency)


def _looks_like_path(text: str) -> bool:
    # "name @ url" is a PEP 508 direct reference, left to the requirement parser.
    if text.startswith((".", "/", "~")) or "\\" in text:
        return True
    return "@" not in text and ("/" in text or text.endswith(_ARCHIVE_SUFFIXES))
