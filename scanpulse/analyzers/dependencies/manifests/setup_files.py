"""setuptools' ``setup.py`` (read as a syntax tree, never run) and ``setup.cfg``."""

from __future__ import annotations

import ast
import configparser

from .pep508 import pep508
from .reading import decode
from .results import ManifestResult, first_line, mark_unread, show

_SETUP_KEYWORDS = ("install_requires", "extras_require")


def parse_setup_py(data: str | bytes, path: str) -> ManifestResult:
    """``setup.py``: the literal ``install_requires`` and ``extras_require`` of its ``setup()``
    call, read from the syntax tree and never run. A name bound once at module level to a
    literal counts as that literal; a value computed any other way cannot be checked."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        mark_unread(result, path, f"not valid Python ({reason})")
        return result
    literals: dict[str, ast.expr] = {}
    bound_again: set[str] = set()
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            name = statement.targets[0].id
            if name in literals:
                bound_again.add(name)
            literals[name] = statement.value
    # Bound twice: which value setup() sees is not knowable without running the file.
    for name in bound_again:
        del literals[name]
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_setup(node.func)):
            continue
        for keyword in node.keywords:
            if keyword.arg is None:
                result.messages.append(
                    f"{path}:{node.lineno}: setup() gets arguments from "
                    f"**{show(ast.unparse(keyword.value), 60)}, which is not read; "
                    "dependencies passed that way cannot be checked"
                )
            elif keyword.arg in _SETUP_KEYWORDS:
                _setup_requirements(keyword.arg, keyword.value, literals, path, result)
    return result


def _is_setup(function: ast.expr) -> bool:
    if isinstance(function, ast.Name):
        return function.id == "setup"
    return isinstance(function, ast.Attribute) and function.attr == "setup"


def _setup_requirements(
    argument: str, value: ast.expr, literals: dict[str, ast.expr], path: str, result: ManifestResult
) -> None:
    def resolve(node: ast.expr) -> ast.expr:
        return literals.get(node.id, node) if isinstance(node, ast.Name) else node

    value = resolve(value)
    if argument == "install_requires":
        groups = [value]
    elif isinstance(value, ast.Dict):
        groups = [resolve(item) for item in value.values]
    else:
        groups = [value]  # reported below as computed
    for group in groups:
        entries = _string_entries(group)
        if entries is None:
            result.messages.append(
                f"{path}:{group.lineno}: {argument} is computed, not a literal; "
                "its dependencies cannot be checked"
            )
            continue
        for line, requirement in entries:
            dependency = pep508(requirement, f"{path}:{line}", path, line, result, direct=True)
            if dependency is not None:
                result.dependencies.append(dependency)


def _string_entries(node: ast.expr) -> list[tuple[int, str]] | None:
    """(line, requirement) per entry of a literal list/tuple of strings, or of a string with one
    requirement per line (setuptools accepts both); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [
            (node.lineno + offset, line.split("#", 1)[0].strip())
            for offset, line in enumerate(node.value.splitlines())
            if line.split("#", 1)[0].strip()
        ]
    if not isinstance(node, ast.List | ast.Tuple):
        return None
    entries = []
    for item in node.elts:
        if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
            return None
        entries.append((item.lineno, item.value.strip()))
    return entries


def parse_setup_cfg(data: str | bytes, path: str) -> ManifestResult:
    """``setup.cfg``: ``[options] install_requires`` and ``[options.extras_require]``, one
    requirement per line."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        mark_unread(result, path, f"not a valid setup.cfg ({first_line(str(exc))})")
        return result
    values: list[tuple[str, str]] = []
    if parser.has_option("options", "install_requires"):
        values.append(("options", parser.get("options", "install_requires")))
    if parser.has_section("options.extras_require"):
        values += [
            ("options.extras_require", value)
            for _, value in parser.items("options.extras_require", raw=True)
        ]
    lines = text.splitlines()
    for section, value in values:
        position = _ini_header_line(lines, section)
        for requirement in value.splitlines():
            requirement = requirement.split("#", 1)[0].strip()
            if not requirement:
                continue
            # The value's lines come in file order: one forward walk finds them all.
            found = next((n for n in range(position, len(lines)) if requirement in lines[n]), None)
            line = None if found is None else found + 1
            position = found + 1 if found is not None else position
            where = f"{path}:{line}" if line is not None else path
            if requirement.startswith("file:"):
                result.messages.append(
                    f"{where}: requirements read from {show(requirement)} are not followed; "
                    "they cannot be checked here"
                )
                continue
            dependency = pep508(requirement, where, path, line, result, direct=True)
            if dependency is not None:
                result.dependencies.append(dependency)
    return result


def _ini_header_line(lines: list[str], section: str) -> int:
    """The (1-based) line of ``[section]``, 0 if absent."""
    return next((n for n, line in enumerate(lines, 1) if line.strip() == f"[{section}]"), 0)
