"""The TOML lock files of Python tools: ``poetry.lock`` and ``uv.lock``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from packaging.utils import canonicalize_name

from scanpulse.advisories.versions import PYPI

from .reading import load_toml
from .results import Dependency, ManifestResult, mark_unread, show

_TOML_PACKAGE_HEADER = re.compile(r"^\s*\[\[\s*package\s*\]\]\s*(#.*)?$")
_TOML_NAME = re.compile(r"^\s*name\s*=")
_UNCHECKABLE_SOURCES = ("git", "url", "path", "directory", "file")


def _package_lines(text: str) -> list[int]:
    """For each ``[[package]]`` table in order, the line of its ``name =`` key (or header)."""
    found: list[int] = []
    awaiting_name = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _TOML_PACKAGE_HEADER.match(line):
            found.append(number)
            awaiting_name = True
        elif line.lstrip().startswith("["):
            # Another table ([package.dependencies]); its keys are not the package's name.
            awaiting_name = False
        elif awaiting_name and _TOML_NAME.match(line):
            found[-1] = number
            awaiting_name = False
    return found


def toml_lock_packages(
    data: str | bytes, path: str, result: ManifestResult
) -> Iterator[tuple[dict[str, Any], int | None, str]]:
    """``(table, line, where)`` per ``[[package]]`` of a TOML lock file."""
    loaded = load_toml(data, path, result)
    if loaded is None:
        return
    text, document = loaded
    packages = document.get("package", [])
    if not isinstance(packages, list):
        mark_unread(result, path, "'package' is not an array of tables")
        return
    lines = _package_lines(text)
    for index, package in enumerate(packages):
        line = lines[index] if len(lines) == len(packages) else None
        where = f"{path}:{line}" if line is not None else f"{path}: package #{index + 1}"
        if not isinstance(package, dict):
            result.messages.append(f"{where}: package entry is not a table; skipped")
            continue
        yield package, line, where


def _name_version(
    package: dict[str, Any], where: str, result: ManifestResult
) -> tuple[str, str] | None:
    name, version = package.get("name"), package.get("version")
    if not isinstance(name, str) or not name.strip():
        result.messages.append(f"{where}: package entry without a name; skipped")
        return None
    if not isinstance(version, str) or not version.strip():
        result.messages.append(f"{where}: {show(name)} has no version; cannot be checked")
        return None
    return name.strip(), version.strip()


def parse_poetry_lock(data: str | bytes, path: str) -> ManifestResult:
    """``poetry.lock``: every ``[[package]]`` is a pinned (transitive or direct) dependency."""
    result = ManifestResult()
    for package, line, where in toml_lock_packages(data, path, result):
        named = _name_version(package, where, result)
        if named is None:
            continue
        name, version = named
        source = package.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        if kind in _UNCHECKABLE_SOURCES:
            result.messages.append(
                f"{where}: {show(name)} comes from a {kind} source; cannot be checked against advisories"
            )
            continue
        result.dependencies.append(
            Dependency(PYPI, name, version, f"{name}=={version}", path, line, direct=False)
        )
    return result


def parse_uv_lock(data: str | bytes, path: str) -> ManifestResult:
    """``uv.lock``: pinned packages; the project's own editable/virtual entries are skipped, and
    the packages they depend on are marked direct."""
    result = ManifestResult()
    entries = list(toml_lock_packages(data, path, result))
    direct: set[str] = set()
    for package, _, _ in entries:
        source = package.get("source")
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            direct.update(_uv_dependency_names(package))
    for package, line, where in entries:
        source = package.get("source")
        source = source if isinstance(source, dict) else {}
        if "editable" in source or "virtual" in source:
            continue
        named = _name_version(package, where, result)
        if named is None:
            continue
        name, version = named
        kind = next((key for key in _UNCHECKABLE_SOURCES if key in source), None)
        if kind is not None:
            result.messages.append(
                f"{where}: {show(name)} comes from a {kind} source; cannot be checked against advisories"
            )
            continue
        result.dependencies.append(
            Dependency(
                PYPI,
                name,
                version,
                f"{name}=={version}",
                path,
                line,
                direct=str(canonicalize_name(name)) in direct,
            )
        )
    return result


def _uv_dependency_names(package: dict[str, Any]) -> set[str]:
    lists: list[object] = [package.get("dependencies")]
    for table in ("optional-dependencies", "dev-dependencies"):
        groups = package.get(table)
        if isinstance(groups, dict):
            lists.extend(groups.values())
    return {
        str(canonicalize_name(item["name"]))
        for items in lists
        if isinstance(items, list)
        for item in items
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
