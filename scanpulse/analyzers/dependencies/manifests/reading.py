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
from xml.etree.ElementTree import Element, ParseError

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

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


_YamlBase: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StringsLoader(_YamlBase):
    """A safe YAML loader that keeps every scalar a string except ``null``: an unquoted
    ``version: 1.10`` stays ``"1.10"`` (not the float 1.1)."""


_StringsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag.endswith((":null", ":merge"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(data: str | bytes, path: str, result: ManifestResult) -> tuple[str, Any] | None:
    """Safe YAML (no Python objects), every scalar a string."""
    text = decode(data, path, result)
    if text is None:
        return None
    try:
        return text, yaml.load(text, Loader=_StringsLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        mark_unread(result, path, f"not valid YAML ({first_line(str(exc))})")
        return None


def load_xml(data: str | bytes, path: str, result: ManifestResult) -> tuple[str, Element] | None:
    """XML without DTDs, entity declarations or external references (defusedxml refuses them),
    with namespaces stripped from tag names."""
    text = decode(data, path, result)
    if text is None:
        return None
    try:
        # The bytes as written, so that expat honours the XML declaration's encoding.
        root = defused_fromstring(data if isinstance(data, bytes) else text, forbid_dtd=True)
    except DefusedXmlException:
        mark_unread(result, path, "declares a DTD or entities, which are never read")
        return None
    except (ParseError, RecursionError, ValueError) as exc:
        mark_unread(result, path, f"not valid XML ({first_line(str(exc))})")
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.rsplit("}", 1)[1]
    return text, root


def child_text(element: Element, name: str) -> str | None:
    """The stripped text of ``element``'s first ``name`` child, ``None`` if absent or empty."""
    child = element.find(name)
    if child is None or child.text is None or not child.text.strip():
        return None
    return child.text.strip()


# A YAML mapping key opening a block on its own line: ``  'name@1.0.0':``, ``"a@npm:^1":``.
_YAML_BLOCK_KEY = re.compile(r"""^\s*(?:'([^']*)'|"([^"]*)"|([^\s'"#][^#]*?))\s*:\s*$""")


def yaml_key_lines(text: str) -> dict[str, int]:
    """The first line of every key that opens a block (``key:`` alone on its line)."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _YAML_BLOCK_KEY.match(line)
        if match is not None:
            found.setdefault(next(group for group in match.groups() if group is not None), number)
    return found


def line_containing(text: str, *needles: str, after: int = 0) -> int | None:
    """The first line after ``after`` holding every needle: best-effort line numbers."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number > after and all(needle in line for needle in needles):
            return number
    return None
