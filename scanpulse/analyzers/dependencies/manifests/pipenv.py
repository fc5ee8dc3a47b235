"""Pipenv's ``Pipfile`` and its ``Pipfile.lock``."""

from __future__ import annotations

import re

from scanpulse.advisories.versions import PYPI

from .pep508 import pep508
from .reading import (
    json_key_lines,
    line_of,
    load_json,
    load_toml,
    read_tables,
    toml_header_line,
    toml_key_lines,
)
from .results import Dependency, ManifestResult, mark_unread, show


def parse_pipfile(data: str | bytes, path: str) -> ManifestResult:
    """``Pipfile``: ``[packages]`` and ``[dev-packages]``; ``"==1.2.3"`` is a pin, ``"*"`` and
    ranges are unpinned. Pipenv writes Pipfile.lock next to it, which is what pins them."""
    result = ManifestResult(lockfiles=("Pipfile.lock",))
    loaded = load_toml(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    keys = toml_key_lines(text)
    for section in ("packages", "dev-packages"):
        entries = document.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            result.messages.append(f"{path}: [{section}] is not a table; skipped")
            continue
        header = toml_header_line(text, section)
        for name, entry in entries.items():
            line = line_of(keys, name, after=header)
            where = f"{path}:{line}" if line is not None else f"{path}: {section}[{name!r}]"
            if isinstance(entry, dict):
                kind = next(
                    (key for key in ("git", "hg", "svn", "bzr", "path", "file") if key in entry),
                    None,
                )
                if kind is not None:
                    result.messages.append(
                        f"{where}: {show(name)} comes from a {kind} source; cannot be checked against advisories"
                    )
                    continue
                entry = entry.get("version", "*")
            if not isinstance(entry, str):
                result.messages.append(f"{where}: version of {show(name)} is not a string; skipped")
                continue
            text_spec = name if entry.strip() in ("", "*") else f"{name}{entry.strip()}"
            dependency = pep508(text_spec, where, path, line, result, direct=True)
            if dependency is not None:
                result.dependencies.append(dependency)
    return result


def parse_pipfile_lock(data: str | bytes, path: str) -> ManifestResult:
    """``Pipfile.lock``: the ``default`` and ``develop`` sections; ``==`` versions are pins."""
    result = ManifestResult()
    loaded = load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        mark_unread(result, path, "not a Pipfile.lock object")
        return result
    sections = ((section, document.get(section, {})) for section in ("default", "develop"))
    read_tables(json_key_lines(text), sections, path, result, _pipfile_entry)
    return result


def _pipfile_entry(
    name: str, entry: object, path: str, line: int | None, where: str, result: ManifestResult
) -> Dependency | None:
    if not isinstance(entry, dict):
        result.messages.append(f"{where}: entry for {show(name)} is not an object; skipped")
        return None
    markers = entry.get("markers")
    marker = markers if isinstance(markers, str) else None
    version = entry.get("version")
    if isinstance(version, str):
        spec = f"{name}{version}"
        pinned = re.fullmatch(r"===?\s*([^\s*,;]+)", version.strip())
        return Dependency(
            PYPI, name, pinned.group(1) if pinned else None, spec, path, line, False, marker
        )
    kind = next((key for key in ("git", "hg", "svn", "bzr", "path", "file") if key in entry), None)
    if kind is not None:
        result.messages.append(
            f"{where}: {show(name)} comes from a {kind} source; cannot be checked against advisories"
        )
    else:
        result.messages.append(f"{where}: {show(name)} has no version; cannot be checked")
    return None
