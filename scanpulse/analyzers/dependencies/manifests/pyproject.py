"""``pyproject.toml``: PEP 621 ``[project]`` dependencies and Poetry's ``[tool.poetry]`` tables."""

from __future__ import annotations

import re
from typing import Any

from packaging.version import InvalidVersion, Version

from scanpulse.advisories.versions import PYPI

from .pep508 import pep508
from .reading import line_of, load_toml, toml_header_line, toml_key_lines
from .results import Dependency, ManifestResult, show


def parse_pyproject(data: str | bytes, path: str) -> ManifestResult:
    """PEP 621 ``[project] dependencies`` and ``optional-dependencies`` (``==`` pins are pinned,
    anything else is reported unpinned) and Poetry's ``[tool.poetry]`` dependency tables. A
    pyproject with neither is not an error."""
    result = ManifestResult()
    loaded = load_toml(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    tool = document.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        _poetry_dependencies(poetry, text, path, result)
    project = document.get("project")
    if not isinstance(project, dict):
        return result
    groups: list[tuple[str, object]] = [("dependencies", project.get("dependencies", []))]
    optional = project.get("optional-dependencies", {})
    if isinstance(optional, dict):
        groups += [(f"optional-dependencies.{key}", value) for key, value in optional.items()]
    else:
        result.messages.append(f"{path}: project.optional-dependencies is not a table; skipped")
    for label, requirements in groups:
        if not isinstance(requirements, list):
            result.messages.append(f"{path}: project.{label} is not a list; skipped")
            continue
        for requirement in requirements:
            if not isinstance(requirement, str):
                result.messages.append(f"{path}: project.{label} has a non-string entry; skipped")
                continue
            line = _line_of_string(text, requirement)
            where = f"{path}:{line}" if line is not None else path
            dependency = pep508(requirement, where, path, line, result, direct=True)
            if dependency is not None:
                result.dependencies.append(dependency)
    return result


# A bare version is an exact pin in Poetry's constraint syntax, as is one after "==" or "=".
_POETRY_EXACT = re.compile(r"(?:==?)?\s*(\d[0-9A-Za-z.+!-]*)")
_POETRY_SOURCES = ("git", "path", "url", "file")


def _poetry_dependencies(
    poetry: dict[str, Any], text: str, path: str, result: ManifestResult
) -> None:
    """``[tool.poetry.dependencies]``, ``dev-dependencies`` and ``group.<name>.dependencies``:
    Poetry writes poetry.lock next to the file, so that is what pins them."""
    tables: list[tuple[str, object]] = [
        ("tool.poetry.dependencies", poetry.get("dependencies")),
        ("tool.poetry.dev-dependencies", poetry.get("dev-dependencies")),
    ]
    groups = poetry.get("group")
    if isinstance(groups, dict):
        tables += [
            (f"tool.poetry.group.{name}.dependencies", group.get("dependencies"))
            for name, group in groups.items()
            if isinstance(group, dict)
        ]
    present = [(label, table) for label, table in tables if table is not None]
    if present:
        result.lockfiles = ("poetry.lock",)
    keys = toml_key_lines(text)
    for label, table in present:
        if not isinstance(table, dict):
            result.messages.append(f"{path}: {label} is not a table; skipped")
            continue
        header = toml_header_line(text, label)
        for name, constraint in table.items():
            if name.lower() == "python":
                continue  # the interpreter version, not a package
            line = line_of(keys, name, after=header)
            where = f"{path}:{line}" if line is not None else path
            dependency = _poetry_dependency(name, constraint, path, line, where, result)
            if dependency is not None:
                result.dependencies.append(dependency)


def _poetry_dependency(
    name: str, constraint: object, path: str, line: int | None, where: str, result: ManifestResult
) -> Dependency | None:
    if isinstance(constraint, dict):
        source = next((key for key in _POETRY_SOURCES if key in constraint), None)
        if source is not None:
            result.messages.append(
                f"{where}: {show(name)} comes from a {source} source; cannot be checked against advisories"
            )
            return None
        constraint = constraint.get("version", "*")
    if isinstance(constraint, list):  # several constraints, one per Python version or platform
        written = " || ".join(
            str(item.get("version", "*")) if isinstance(item, dict) else str(item)
            for item in constraint
        )
        return Dependency(PYPI, name, None, f'{name} = "{written}"', path, line, direct=True)
    if not isinstance(constraint, str):
        result.messages.append(f"{where}: {show(name)} has no version constraint; skipped")
        return None
    exact = _POETRY_EXACT.fullmatch(constraint.strip())
    version = exact.group(1) if exact is not None and _is_pep440(exact.group(1)) else None
    return Dependency(PYPI, name, version, f'{name} = "{constraint}"', path, line, direct=True)


def _is_pep440(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def _line_of_string(text: str, value: str) -> int | None:
    quoted = (f'"{value}"', f"'{value}'")
    for number, line in enumerate(text.splitlines(), start=1):
        if any(candidate in line for candidate in quoted):
            return number
    return None
