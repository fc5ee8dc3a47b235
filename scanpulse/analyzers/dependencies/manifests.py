"""Dependency manifest parsers: requirements files, pyproject.toml (PEP 621 and Poetry),
setup.py and setup.cfg, Pipfile, package.json, and the Python and npm lock files.

Every parser takes text or raw bytes and never raises: each problem becomes a message such as
``"requirements.txt:7: cannot parse 'foo bar baz'"`` and the rest of the file is still read.
Nothing is ever executed: ``setup.py`` is read as a syntax tree, and only literal values count.
"""

from __future__ import annotations

import ast
import bisect
import codecs
import configparser
import fnmatch
import json
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from scanpulse.advisories.osv import normalize_name
from scanpulse.advisories.versions import NPM, PYPI

# Reads a repository-relative POSIX path for ``-r``/``-c`` includes; ``None`` if it is not a
# readable file inside the checkout.
IncludeReader = Callable[[str], bytes | None]


@dataclass(frozen=True, slots=True)
class Dependency:
    """One package a manifest asks for; ``version`` is set only when it is pinned exactly."""

    ecosystem: str
    name: str
    version: str | None
    spec: str  # the requirement as written; lock files: ``name==version`` / ``name@version``
    path: str  # the file it was found in (an included file for ``-r``/``-c`` lines)
    line: int | None
    direct: bool
    marker: str | None = None  # PEP 508 environment marker, kept as information

    def __post_init__(self) -> None:
        # The spec is quoted in findings (message, snippet, properties): never a credential.
        object.__setattr__(self, "spec", mask_url_credentials(self.spec))

    @property
    def normalized_name(self) -> str:
        return normalize_name(self.ecosystem, self.name)

    def requirement(self) -> str:
        """The normalized requirement, e.g. ``django==3.2.0``, ``requests>=2``, ``@a/b@1.0.0``."""
        if self.ecosystem == NPM:
            return f"{self.normalized_name}@{self.version}" if self.version else self.spec
        if self.version is not None:
            return f"{self.normalized_name}=={self.version}"
        try:
            parsed = Requirement(self.spec)
        except InvalidRequirement:
            return self.spec
        return f"{canonicalize_name(parsed.name)}{parsed.specifier}"


@dataclass(slots=True)
class ManifestResult:
    dependencies: list[Dependency] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    # Why nothing of the file could be read (it is also among ``messages``).
    unread: str | None = None
    # The lock files one of which the tool that reads this manifest writes next to it: without
    # one, version ranges and the dependencies of dependencies are unknown.
    lockfiles: tuple[str, ...] = ()


def _unread(result: ManifestResult, path: str, reason: str) -> None:
    result.messages.append(f"{path}: {reason}; skipped")
    result.unread = reason


# --- shared helpers ----------------------------------------------------------------------------

# UTF-32 first: its little-endian BOM starts with the UTF-16 one. PowerShell's ``pip freeze >``
# writes UTF-16, so these are real.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: str | bytes, path: str, result: ManifestResult) -> str | None:
    if isinstance(data, str):
        return data
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        _unread(result, path, f"not valid {encoding.upper()} text")
        return None


# The user-info part of a URL ("https://user:token@host/…"): a credential, never quoted. Up to
# the last "@" before the path: a password may hold "@" itself.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s]*@")


def mask_url_credentials(text: str) -> str:
    """``text`` with the user-info part of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub("***@", text)


def _show(text: str, limit: int = 120) -> str:
    """Quote file content for a message: credentials in URLs masked, shortened, control
    characters escaped (messages reach logs, the scan's summary and the API)."""
    text = mask_url_credentials(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text) + "'"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _load_toml(
    data: str | bytes, path: str, result: ManifestResult
) -> tuple[str, dict[str, Any]] | None:
    text = _decode(data, path, result)
    if text is None:
        return None
    try:
        return text, tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        _unread(result, path, f"not valid TOML ({_first_line(str(exc))})")
        return None


def _load_json(data: str | bytes, path: str, result: ManifestResult) -> tuple[str, Any] | None:
    text = _decode(data, path, result)
    if text is None:
        return None
    try:
        return text, json.loads(text)
    except (ValueError, RecursionError) as exc:
        _unread(result, path, f"not valid JSON ({_first_line(str(exc))})")
        return None


# A JSON object key opening an object on its own line, as npm and pipenv format their files.
_JSON_OBJECT_KEY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:\s*\{')
# Any JSON object key at the start of a line.
_JSON_KEY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:')


def _json_key_lines(text: str, pattern: re.Pattern[str] = _JSON_OBJECT_KEY) -> dict[str, list[int]]:
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


def _line_of(keys: dict[str, list[int]], key: str, after: int = 0) -> int | None:
    """The first line after ``after`` where ``key`` opens an object."""
    lines = keys.get(key, [])
    position = bisect.bisect_right(lines, after)
    return lines[position] if position < len(lines) else None


# --- requirements files ------------------------------------------------------------------------

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
    text = _decode(data, path, result)
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
                    f"{where}: editable requirement {_show(value)} cannot be checked against advisories"
                )
            elif option not in _IGNORED_OPTIONS:
                result.messages.append(f"{where}: unknown option {_show(option)} ignored")
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
        result.messages.append(f"{where}: remote requirements file {_show(target)} not followed")
        return
    relative = target.replace("\\", "/")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), relative))
    if relative.startswith("/") or resolved == ".." or resolved.startswith("../"):
        result.messages.append(f"{where}: {_show(target)} is outside the checkout; not followed")
        return
    if len(chain) > MAX_INCLUDE_DEPTH:
        result.messages.append(
            f"{where}: includes nested more than {MAX_INCLUDE_DEPTH} deep; {_show(target)} not followed"
        )
        return
    if resolved in chain:
        cycle = " -> ".join((*chain, resolved))
        result.messages.append(f"{where}: include cycle {cycle}; not followed")
        return
    content = include(resolved) if include is not None else None
    if content is None:
        result.messages.append(f"{where}: included file {_show(resolved)} not found")
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
            result.messages.append(f"{where}: unknown option {_show(name)} ignored")
    if not text:
        return
    location = text.split(";", 1)[0].strip()
    if _URL.match(location) or _looks_like_path(location):
        result.messages.append(
            f"{where}: URL or local-path requirement {_show(text)} cannot be checked against advisories"
        )
        return
    dependency = _pep508(text, where, path, number, result, direct=not constraint)
    if dependency is not None and (dependency.version is not None or not constraint):
        result.dependencies.append(dependency)


def _looks_like_path(text: str) -> bool:
    # "name @ url" is a PEP 508 direct reference, left to the requirement parser.
    if text.startswith((".", "/", "~")) or "\\" in text:
        return True
    return "@" not in text and ("/" in text or text.endswith(_ARCHIVE_SUFFIXES))


def _pep508(
    text: str, where: str, path: str, line: int | None, result: ManifestResult, *, direct: bool
) -> Dependency | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        result.messages.append(f"{where}: cannot parse {_show(text)} ({_first_line(str(exc))})")
        return None
    if requirement.url:
        result.messages.append(
            f"{where}: URL requirement {_show(text)} cannot be checked against advisories"
        )
        return None
    pins = {
        spec.version
        for spec in requirement.specifier
        if spec.operator in ("==", "===") and not spec.version.endswith(".*")
    }
    return Dependency(
        ecosystem=PYPI,
        name=requirement.name,
        version=pins.pop() if len(pins) == 1 else None,
        spec=text,
        path=path,
        line=line,
        direct=direct,
        marker=str(requirement.marker) if requirement.marker is not None else None,
    )


# --- pyproject.toml ----------------------------------------------------------------------------


def parse_pyproject(data: str | bytes, path: str) -> ManifestResult:
    """PEP 621 ``[project] dependencies`` and ``optional-dependencies`` (``==`` pins are pinned,
    anything else is reported unpinned) and Poetry's ``[tool.poetry]`` dependency tables. A
    pyproject with neither is not an error."""
    result = ManifestResult()
    loaded = _load_toml(data, path, result)
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
            dependency = _pep508(requirement, where, path, line, result, direct=True)
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
    keys = _toml_key_lines(text)
    for label, table in present:
        if not isinstance(table, dict):
            result.messages.append(f"{path}: {label} is not a table; skipped")
            continue
        header = _toml_header_line(text, label)
        for name, constraint in table.items():
            if name.lower() == "python":
                continue  # the interpreter version, not a package
            line = _line_of(keys, name, after=header)
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
                f"{where}: {_show(name)} comes from a {source} source; cannot be checked against advisories"
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
        result.messages.append(f"{where}: {_show(name)} has no version constraint; skipped")
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


def _toml_header_line(text: str, table: str) -> int:
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


def _toml_key_lines(text: str) -> dict[str, list[int]]:
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


def _line_of_string(text: str, value: str) -> int | None:
    quoted = (f'"{value}"', f"'{value}'")
    for number, line in enumerate(text.splitlines(), start=1):
        if any(candidate in line for candidate in quoted):
            return number
    return None


# --- Python lock files -------------------------------------------------------------------------

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


def _lock_packages(
    data: str | bytes, path: str, result: ManifestResult
) -> Iterator[tuple[dict[str, Any], int | None, str]]:
    """``(table, line, where)`` per ``[[package]]`` of a TOML lock file."""
    loaded = _load_toml(data, path, result)
    if loaded is None:
        return
    text, document = loaded
    packages = document.get("package", [])
    if not isinstance(packages, list):
        _unread(result, path, "'package' is not an array of tables")
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
        result.messages.append(f"{where}: {_show(name)} has no version; cannot be checked")
        return None
    return name.strip(), version.strip()


def parse_poetry_lock(data: str | bytes, path: str) -> ManifestResult:
    """``poetry.lock``: every ``[[package]]`` is a pinned (transitive or direct) dependency."""
    result = ManifestResult()
    for package, line, where in _lock_packages(data, path, result):
        named = _name_version(package, where, result)
        if named is None:
            continue
        name, version = named
        source = package.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        if kind in _UNCHECKABLE_SOURCES:
            result.messages.append(
                f"{where}: {_show(name)} comes from a {kind} source; cannot be checked against advisories"
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
    entries = list(_lock_packages(data, path, result))
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
                f"{where}: {_show(name)} comes from a {kind} source; cannot be checked against advisories"
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


def parse_pipfile_lock(data: str | bytes, path: str) -> ManifestResult:
    """``Pipfile.lock``: the ``default`` and ``develop`` sections; ``==`` versions are pins."""
    result = ManifestResult()
    loaded = _load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        _unread(result, path, "not a Pipfile.lock object")
        return result
    sections = ((section, document.get(section, {})) for section in ("default", "develop"))
    _read_tables(_json_key_lines(text), sections, path, result, _pipfile_entry)
    return result


# Reads one entry of a manifest's table: (name, value, path, line, where, result).
EntryReader = Callable[[str, object, str, int | None, str, ManifestResult], Dependency | None]


def _read_tables(
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
        table_line = _line_of(keys, table) or 0
        for name, value in entries.items():
            line = _line_of(keys, name, after=table_line)
            where = f"{path}:{line}" if line is not None else f"{path}: {table}[{name!r}]"
            dependency = read_entry(name, value, path, line, where, result)
            if dependency is not None:
                result.dependencies.append(dependency)


def _pipfile_entry(
    name: str, entry: object, path: str, line: int | None, where: str, result: ManifestResult
) -> Dependency | None:
    if not isinstance(entry, dict):
        result.messages.append(f"{where}: entry for {_show(name)} is not an object; skipped")
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
            f"{where}: {_show(name)} comes from a {kind} source; cannot be checked against advisories"
        )
    else:
        result.messages.append(f"{where}: {_show(name)} has no version; cannot be checked")
    return None


# --- npm ---------------------------------------------------------------------------------------

_NODE_MODULES = "node_modules/"


def parse_package_lock(data: str | bytes, path: str) -> ManifestResult:
    """``package-lock.json`` v2/v3: every ``node_modules/…`` entry of the ``packages`` map.

    The name comes from the last ``node_modules/`` segment of the key (so nested and scoped
    packages work) unless the entry names the real package (npm aliases). The root ``""`` entry,
    workspace folders and ``link: true`` entries are the project's own code and are skipped.
    """
    result = ManifestResult()
    loaded = _load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        _unread(result, path, "not a package-lock object")
        return result
    packages = document.get("packages")
    if not isinstance(packages, dict):
        if "dependencies" in document:
            reason = "lockfileVersion 1 is not supported; regenerate it with npm 7 or later"
            result.messages.append(f"{path}: {reason}")
            result.unread = reason
        else:
            _unread(result, path, "no 'packages' map")
        return result
    root = packages.get("")
    direct = _npm_direct_names(root if isinstance(root, dict) else {})
    keys = _json_key_lines(text)
    for key, entry in packages.items():
        if _NODE_MODULES not in key:
            continue
        line = _line_of(keys, key)
        where = f"{path}:{line}" if line is not None else f"{path}: {key}"
        if not isinstance(entry, dict):
            result.messages.append(f"{where}: entry {_show(key)} is not an object; skipped")
            continue
        if entry.get("link") is True:
            continue
        installed_as = key[key.rfind(_NODE_MODULES) + len(_NODE_MODULES) :]
        name = entry.get("name") if isinstance(entry.get("name"), str) else installed_as
        version = entry.get("version")
        if not name:
            result.messages.append(f"{where}: entry {_show(key)} has no package name; skipped")
            continue
        if not isinstance(version, str) or not version.strip():
            result.messages.append(f"{where}: {_show(name)} has no version; cannot be checked")
            continue
        result.dependencies.append(
            Dependency(
                NPM,
                name,
                version.strip(),
                f"{name}@{version.strip()}",
                path,
                line,
                direct=key == _NODE_MODULES + installed_as and installed_as in direct,
            )
        )
    return result


def _npm_direct_names(root: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for table in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
        value = root.get(table)
        if isinstance(value, dict):
            names.update(key for key in value if isinstance(key, str))
    return names


ManifestParser = Callable[[str | bytes, str], ManifestResult]

_NPM_TABLES = ("dependencies", "devDependencies", "optionalDependencies")
_NPM_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
# A full SemVer version, optionally after "=" or "v": npm installs exactly that version.
_NPM_EXACT = re.compile(r"=?\s*v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)")
# Specs that do not name a registry version: URLs, git, local paths, workspaces, GitHub
# shorthand ("user/repo").
_NPM_NOT_REGISTRY = re.compile(r"^(?:[a-z+]+:|\.{0,2}/|~/)|^[^@\s]+/[^\s]+$", re.IGNORECASE)


def parse_package_json(data: str | bytes, path: str) -> ManifestResult:
    """``package.json``: ``dependencies``, ``devDependencies`` and ``optionalDependencies``.

    An exact version (``"4.17.21"``) is a pin; a range (``"^4.17.0"``) is unpinned. npm alias
    specs (``"npm:real-name@1.2.3"``) are checked under the real name. npm writes
    package-lock.json next to it, which is what pins ranges and the dependencies of
    dependencies."""
    result = ManifestResult(lockfiles=_NPM_LOCKFILES)
    loaded = _load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        _unread(result, path, "not a package.json object")
        return result
    tables = ((table, document[table]) for table in _NPM_TABLES if document.get(table) is not None)
    _read_tables(_json_key_lines(text, _JSON_KEY), tables, path, result, _npm_dependency)
    return result


def _npm_dependency(
    name: str, spec: object, path: str, line: int | None, where: str, result: ManifestResult
) -> Dependency | None:
    if not isinstance(spec, str):
        result.messages.append(f"{where}: version of {_show(name)} is not a string; skipped")
        return None
    written = spec.strip()
    package = name
    if written.lower().startswith("npm:"):  # an alias: "npm:real-name@range"
        target = written[4:]
        at = target.rfind("@")
        package, written = (target[:at], target[at + 1 :]) if at > 0 else (target, "")
    if _NPM_NOT_REGISTRY.search(written):
        result.messages.append(
            f"{where}: {_show(name)} comes from {_show(written)}, not the npm registry; "
            "cannot be checked against advisories"
        )
        return None
    exact = _NPM_EXACT.fullmatch(written)
    version = exact.group(1) if exact is not None else None
    return Dependency(NPM, package, version, f"{package}@{written or '*'}", path, line, direct=True)


def parse_pipfile(data: str | bytes, path: str) -> ManifestResult:
    """``Pipfile``: ``[packages]`` and ``[dev-packages]``; ``"==1.2.3"`` is a pin, ``"*"`` and
    ranges are unpinned. Pipenv writes Pipfile.lock next to it, which is what pins them."""
    result = ManifestResult(lockfiles=("Pipfile.lock",))
    loaded = _load_toml(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    keys = _toml_key_lines(text)
    for section in ("packages", "dev-packages"):
        entries = document.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            result.messages.append(f"{path}: [{section}] is not a table; skipped")
            continue
        header = _toml_header_line(text, section)
        for name, entry in entries.items():
            line = _line_of(keys, name, after=header)
            where = f"{path}:{line}" if line is not None else f"{path}: {section}[{name!r}]"
            if isinstance(entry, dict):
                kind = next(
                    (key for key in ("git", "hg", "svn", "bzr", "path", "file") if key in entry),
                    None,
                )
                if kind is not None:
                    result.messages.append(
                        f"{where}: {_show(name)} comes from a {kind} source; cannot be checked against advisories"
                    )
                    continue
                entry = entry.get("version", "*")
            if not isinstance(entry, str):
                result.messages.append(
                    f"{where}: version of {_show(name)} is not a string; skipped"
                )
                continue
            text_spec = name if entry.strip() in ("", "*") else f"{name}{entry.strip()}"
            dependency = _pep508(text_spec, where, path, line, result, direct=True)
            if dependency is not None:
                result.dependencies.append(dependency)
    return result


_SETUP_KEYWORDS = ("install_requires", "extras_require")


def parse_setup_py(data: str | bytes, path: str) -> ManifestResult:
    """``setup.py``: the literal ``install_requires`` and ``extras_require`` of its ``setup()``
    call, read from the syntax tree and never run. A name bound once at module level to a
    literal counts as that literal; a value computed any other way cannot be checked."""
    result = ManifestResult()
    text = _decode(data, path, result)
    if text is None:
        return result
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        _unread(result, path, f"not valid Python ({reason})")
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
                    f"**{_show(ast.unparse(keyword.value), 60)}, which is not read; "
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
            dependency = _pep508(requirement, f"{path}:{line}", path, line, result, direct=True)
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
    text = _decode(data, path, result)
    if text is None:
        return result
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        _unread(result, path, f"not a valid setup.cfg ({_first_line(str(exc))})")
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
                    f"{where}: requirements read from {_show(requirement)} are not followed; "
                    "they cannot be checked here"
                )
                continue
            dependency = _pep508(requirement, where, path, line, result, direct=True)
            if dependency is not None:
                result.dependencies.append(dependency)
    return result


def _ini_header_line(lines: list[str], section: str) -> int:
    """The (1-based) line of ``[section]``, 0 if absent."""
    return next((n for n, line in enumerate(lines, 1) if line.strip() == f"[{section}]"), 0)


def _unsupported(reason: str) -> ManifestParser:
    def parse(data: str | bytes, path: str) -> ManifestResult:
        result = ManifestResult()
        _unread(result, path, reason)
        return result

    return parse


# --- selection ---------------------------------------------------------------------------------

_PARSERS: dict[str, ManifestParser] = {
    "pyproject.toml": parse_pyproject,
    "setup.py": parse_setup_py,
    "setup.cfg": parse_setup_cfg,
    "Pipfile": parse_pipfile,
    "poetry.lock": parse_poetry_lock,
    "uv.lock": parse_uv_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "package.json": parse_package_json,
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,  # the same format, published with a package
    # Found, so that they are listed as not checked rather than passed over in silence.
    "yarn.lock": _unsupported("yarn lock files are not supported"),
    "pnpm-lock.yaml": _unsupported("pnpm lock files are not supported"),
}
# pip-tools compiles requirements.in into requirements.txt: both are requirements files.
_REQUIREMENTS_PATTERNS = ("requirements*.txt", "requirements*.in")
_NPM_MANIFESTS = frozenset({"package.json", *_NPM_LOCKFILES, "yarn.lock", "pnpm-lock.yaml"})


def _is_requirements(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _REQUIREMENTS_PATTERNS)


def is_manifest(path: str) -> bool:
    """Whether the file (by its base name) is a manifest this analyzer reads. The package.json
    files of installed packages (under ``node_modules/``) are not: the lock file has them."""
    name = posixpath.basename(path)
    if name == "package.json" and "node_modules" in path.split("/")[:-1]:
        return False
    return name in _PARSERS or _is_requirements(name)


def manifest_ecosystem(path: str) -> str:
    """The ecosystem of a manifest's dependencies (by its base name)."""
    return NPM if posixpath.basename(path) in _NPM_MANIFESTS else PYPI


def parse_manifest(
    data: str | bytes, path: str, *, include: IncludeReader | None = None
) -> ManifestResult:
    """Parse any supported manifest, choosing the parser by base name; ``include`` reads the
    files requirements files refer to. A path ``is_manifest`` rejects gives a message."""
    name = posixpath.basename(path)
    parser = _PARSERS.get(name)
    if parser is not None:
        return parser(data, path)
    if _is_requirements(name):
        return parse_requirements(data, path, include=include)
    return ManifestResult(messages=[f"{path}: not a supported dependency manifest"])
