"""Dependency manifest parsers: requirements files, Python and npm lock files, pyproject.toml.

Every parser takes text or raw bytes and never raises: each problem becomes a message such as
``"requirements.txt:7: cannot parse 'foo bar baz'"`` and the rest of the file is still read.
"""

from __future__ import annotations

import bisect
import codecs
import fnmatch
import json
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

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
        result.messages.append(f"{path}: not valid {encoding.upper()} text; skipped")
        return None


def _show(text: str, limit: int = 120) -> str:
    """Quote file content for a message: shortened, control characters escaped."""
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
        result.messages.append(f"{path}: not valid TOML ({_first_line(str(exc))}); skipped")
        return None


def _load_json(data: str | bytes, path: str, result: ManifestResult) -> tuple[str, Any] | None:
    text = _decode(data, path, result)
    if text is None:
        return None
    try:
        return text, json.loads(text)
    except (ValueError, RecursionError) as exc:
        result.messages.append(f"{path}: not valid JSON ({_first_line(str(exc))}); skipped")
        return None


# A JSON object key opening an object on its own line, as npm and pipenv format their files.
_JSON_OBJECT_KEY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:\s*\{')


def _json_key_lines(text: str) -> dict[str, list[int]]:
    """Lines (ascending) of every line opening an object, per key: best-effort line numbers."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _JSON_OBJECT_KEY.match(line)
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
    """PEP 621 ``[project] dependencies`` and ``optional-dependencies``; ``==`` pins are pinned,
    anything else is reported unpinned. A pyproject without ``[project]`` is not an error."""
    result = ManifestResult()
    loaded = _load_toml(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
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
        result.messages.append(f"{path}: 'package' is not an array of tables; skipped")
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
        result.messages.append(f"{path}: not a Pipfile.lock object; skipped")
        return result
    keys = _json_key_lines(text)
    for section in ("default", "develop"):
        entries = document.get(section, {})
        if not isinstance(entries, dict):
            result.messages.append(f"{path}: {section!r} is not an object; skipped")
            continue
        section_line = _line_of(keys, section) or 0
        for name, entry in entries.items():
            line = _line_of(keys, name, after=section_line)
            where = f"{path}:{line}" if line is not None else f"{path}: {section}[{name!r}]"
            dependency = _pipfile_entry(name, entry, path, line, where, result)
            if dependency is not None:
                result.dependencies.append(dependency)
    return result


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
        result.messages.append(f"{path}: not a package-lock object; skipped")
        return result
    packages = document.get("packages")
    if not isinstance(packages, dict):
        if "dependencies" in document:
            result.messages.append(
                f"{path}: lockfileVersion 1 is not supported; regenerate it with npm 7 or later"
            )
        else:
            result.messages.append(f"{path}: no 'packages' map; skipped")
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


# --- selection ---------------------------------------------------------------------------------

ManifestParser = Callable[[str | bytes, str], ManifestResult]

_PARSERS: dict[str, ManifestParser] = {
    "pyproject.toml": parse_pyproject,
    "poetry.lock": parse_poetry_lock,
    "uv.lock": parse_uv_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "package-lock.json": parse_package_lock,
}
_REQUIREMENTS_PATTERN = "requirements*.txt"


def is_manifest(path: str) -> bool:
    """Whether the file (by its base name) is a manifest this analyzer reads."""
    name = posixpath.basename(path)
    return name in _PARSERS or fnmatch.fnmatchcase(name, _REQUIREMENTS_PATTERN)


def parse_manifest(
    data: str | bytes, path: str, *, include: IncludeReader | None = None
) -> ManifestResult:
    """Parse any supported manifest, choosing the parser by base name; ``include`` reads the
    files requirements files refer to. A path ``is_manifest`` rejects gives a message."""
    name = posixpath.basename(path)
    parser = _PARSERS.get(name)
    if parser is not None:
        return parser(data, path)
    if fnmatch.fnmatchcase(name, _REQUIREMENTS_PATTERN):
        return parse_requirements(data, path, include=include)
    return ManifestResult(messages=[f"{path}: not a supported dependency manifest"])
