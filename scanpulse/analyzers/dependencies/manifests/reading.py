"""Reading manifest text: decoding (byte-order marks included), loading TOML and JSON, and the
best-effort line numbers of the keys a file writes.
"""

from __future__ import annotations

import bisect
import codecs
import json
import re
import tomllib
from collections.abc import Iterable
from typing import Any

from .results import EntryReader, ManifestResult, first_line, mark_unread

# UTF-32 first: its little-endian BOM starts with the UTF-16 one. PowerShell's ``pip freeze >``
# writes UTF-16, so these are real.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: str | bytes, path: str, result: ManifestResult) -> str | None:
    if isinstance(data, str):
        return data
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        mark_unread(result, path, f"not valid {encoding.upper()} text")
        return None


def load_toml(
    data: str | bytes, path: str, result: ManifestResult
) -> tuple[str, dict[str, Any]] | None:
    text = decode(data, path, result)
    if text is None:
        return None
    try:
        return text, tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        mark_unread(result, path, f"not valid TOML ({first_line(str(exc))})")
        return None


def load_json(data: str | bytes, path: str, result: ManifestResult) -> tuple[str, Any] | None:
    text = decode(data, path, result)
    if text is None:
        return None
    try:
        return text, json.loads(text)
    except (ValueError, RecursionError) as exc:
        mark_unread(result, path, f"not valid JSON ({first_line(str(exc))})")
        return None


# A JSON object key opening an object on its own line, as npm and pipenv format their files.
JSON_OBJECT_KEY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:\s*\{')
# Any JSON object key at the start of a line.
JSON_KEY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:')


def json_key_lines(text: str, pattern: re.Pattern[str] = JSON_OBJECT_KEY) -> dict[str, list[int]]:
    """Lines (ascending) per key of every line ``pattern`` matches (by default, lines opening
    an object): best-effort line numbers."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = pattern.match(line)
        if match is not None:
            try:
                key = json.loads(f'"{match.group(1)}"')
            except ValueError:
                continue
            found.setdefault(key, []).append(number)
    return found


def line_of(keys: dict[str, list[int]], key: str, after: int = 0) -> int | None:
    """The first line after ``after`` where ``key`` opens an object."""
    lines = keys.get(key, [])
    position = bisect.bisect_right(lines, after)
    return lines[position] if position < len(lines) else None


def toml_header_line(text: str, table: str) -> int:
    """The line of ``[table]`` (0 when it is not written as a header of its own)."""
    pattern = re.compile(
        r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, table.split("."))) + r"\s*\]"
    )
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 0


# A TOML key (bare, basic-quoted or literal-quoted) assigned at the start of a line.
_TOML_KEY = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")


def toml_key_lines(text: str) -> dict[str, list[int]]:
    """Lines (ascending) of every key assigned at the start of a line, per key: best effort."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _TOML_KEY.match(line)
        if match is not None:
            basic, literal, bare = match.groups()
            key = bare or literal
            if basic is not None:
                try:
                    key = json.loads(f'"{basic}"')
                except ValueError:
                    continue
            found.setdefault(key or "", []).append(number)
    return found


def read_tables(
    keys: dict[str, list[int]],
    tables: Iterable[tuple[str, object]],
    path: str,
    result: ManifestResult,
    read_entry: EntryReader,
) -> None:
    """The dependencies of JSON tables of ``name: value`` entries, each read by ``read_entry``
    with the line its key is on (``keys``: where each key is written)."""
    for table, entries in tables:
        if not isinstance(entries, dict):
            result.messages.append(f"{path}: {table!r} is not an object; skipped")
            continue
        table_line = line_of(keys, table) or 0
        for name, value in entries.items():
            line = line_of(keys, name, after=table_line)
            where = f"{path}:{line}" if line is not None else f"{path}: {table}[{name!r}]"
            dependency = read_entry(name, value, path, line, where, result)
            if dependency is not None:
                result.dependencies.append(dependency)
