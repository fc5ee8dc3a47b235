"""npm's other lock files: pnpm's ``pnpm-lock.yaml`` (lockfile versions 5 to 9) and Yarn's
``yarn.lock`` (v1, and Yarn 2+ "berry", which is YAML)."""

from __future__ import annotations

import re
from typing import Any

from scanpulse.advisories.versions import NPM

from .reading import decode, load_yaml, yaml_key_lines
from .results import Dependency, ManifestResult, mark_unread, show

# A registry version as lock files write it (pnpm adds "_peer" or "(peer@1.0.0)" suffixes).
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def _split_name_version(text: str) -> tuple[str, str] | None:
    """``@scope/name@1.2.3`` → (``@scope/name``, ``1.2.3``)."""
    at = text.find("@", 1)
    if at <= 0:
        return None
    return text[:at], text[at + 1 :]


def _pnpm_key(key: str, lockfile_version: str) -> tuple[str, str] | None:
    """The package and version of a ``packages``/``snapshots`` key: ``/name/1.2.3_peer`` (v5),
    ``/name@1.2.3(peer@2.0.0)`` (v6) or ``name@1.2.3(peer@2.0.0)`` (v9)."""
    key = key.split("(", 1)[0]
    if lockfile_version.startswith("5"):
        trimmed = key.lstrip("/")
        name, _, version = trimmed.rpartition("/")
        version = version.split("_", 1)[0]
        return (name, version) if name else None
    return _split_name_version(key.lstrip("/"))


def _pnpm_direct(document: dict[str, Any]) -> set[str]:
    importers = document.get("importers")
    roots = list(importers.values()) if isinstance(importers, dict) else [document]
    names: set[str] = set()
    for root in roots:
        if not isinstance(root, dict):
            continue
        for table in ("dependencies", "devDependencies", "optionalDependencies"):
            value = root.get(table)
            if isinstance(value, dict):
                names.update(value)
    return names


def parse_pnpm_lock(data: str | bytes, path: str) -> ManifestResult:
    """``pnpm-lock.yaml``: every ``packages`` key (and ``snapshots`` in v9); what the importers
    (or, before v6 workspaces, the root) list is direct. Tarball, git, ``file:`` and ``link:``
    packages cannot be checked."""
    result = ManifestResult()
    loaded = load_yaml(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict) or not isinstance(document.get("packages", {}), dict):
        mark_unread(result, path, "not a pnpm lock file")
        return result
    lockfile_version = str(document.get("lockfileVersion", ""))
    direct = _pnpm_direct(document)
    lines = yaml_key_lines(text)
    seen: set[tuple[str, str]] = set()
    for table in ("packages", "snapshots"):
        entries = document.get(table)
        if not isinstance(entries, dict):
            continue
        for key in entries:
            if not isinstance(key, str):
                continue
            parsed = _pnpm_key(key, lockfile_version)
            line = lines.get(key)
            where = f"{path}:{line}" if line is not None else f"{path}: {key}"
            if parsed is None or not _VERSION.fullmatch(parsed[1]):
                result.messages.append(
                    f"{where}: {show(key)} is not a registry package version; cannot be "
                    "checked against advisories"
                )
                continue
            if parsed in seen:
                continue
            seen.add(parsed)
            name, version = parsed
            result.dependencies.append(
                Dependency(
                    NPM, name, version, f"{name}@{version}", path, line, direct=name in direct
                )
            )
    return result


# Yarn v1: an unindented line of comma-separated "name@range" specifiers ending in ":".
_YARN_V1_VERSION = re.compile(r'^\s+version:?\s+"?([^"\s]+)"?\s*$')
_NOT_REGISTRY = ("file:", "link:", "git", "github:", "http:", "https:", "portal:", "exec:")


def parse_yarn_lock(data: str | bytes, path: str) -> ManifestResult:
    """``yarn.lock``: v1 (Yarn's own format) or berry (YAML with ``__metadata``). The package of
    an entry comes from its specifiers (``"lodash@^4.17.0", "lodash@^4.17.20"``; an alias
    ``"x@npm:lodash@^4"`` is lodash); workspaces are the project's own code, ``patch:``
    entries repeat the package they patch, and git, file and link sources cannot be checked.
    Berry lists the workspaces' dependencies, which are direct; v1 does not say."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    if "__metadata:" in text:
        return _parse_berry(data, path, result)
    entries: list[tuple[int, str, str | None]] = []  # line, specifiers, version
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if not line[0].isspace() and line.rstrip().endswith(":"):
            entries.append((number, line.rstrip()[:-1], None))
            continue
        match = _YARN_V1_VERSION.match(line)
        if match is not None and entries and entries[-1][2] is None:
            entries[-1] = (entries[-1][0], entries[-1][1], match.group(1))
    for number, specifiers, version in entries:
        first = specifiers.split(",")[0].strip().strip('"')
        _yarn_entry(first, version, number, path, result, direct=False)
    return result


def _yarn_entry(
    specifier: str,
    version: str | None,
    line: int | None,
    path: str,
    result: ManifestResult,
    *,
    direct: bool,
) -> None:
    where = f"{path}:{line}" if line is not None else path
    parsed = _split_name_version(specifier)
    if parsed is None:
        result.messages.append(f"{where}: cannot parse {show(specifier)}")
        return
    name, range_ = parsed
    if range_.startswith("npm:"):
        target = range_[4:]
        real = _split_name_version(target)
        if real is not None:
            name = real[0]
    elif range_.startswith(_NOT_REGISTRY):
        result.messages.append(
            f"{where}: {show(name)} comes from {show(range_)}, not the npm registry; "
            "cannot be checked against advisories"
        )
        return
    if version is None or not _VERSION.fullmatch(version):
        result.messages.append(f"{where}: {show(name)} has no registry version; skipped")
        return
    result.dependencies.append(
        Dependency(NPM, name, version, f"{name}@{version}", path, line, direct=direct)
    )


def _parse_berry(data: str | bytes, path: str, result: ManifestResult) -> ManifestResult:
    loaded = load_yaml(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        mark_unread(result, path, "not a yarn lock file")
        return result
    direct: set[str] = set()
    for key, entry in document.items():
        if isinstance(entry, dict) and "@workspace:" in str(entry.get("resolution", key)):
            for table in ("dependencies", "devDependencies", "optionalDependencies"):
                value = entry.get(table)
                if isinstance(value, dict):
                    direct.update(value)
    lines = yaml_key_lines(text)
    for key, entry in document.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = str(entry.get("resolution", ""))
        line = lines.get(str(key))
        parsed = _split_name_version(resolution)
        if parsed is None:
            result.messages.append(f"{path}:{line}: cannot parse {show(resolution)}")
            continue
        name, reference = parsed
        if reference.startswith("workspace:") or reference.startswith("patch:"):
            continue
        if not reference.startswith("npm:"):
            result.messages.append(
                f"{path}:{line}: {show(name)} comes from {show(reference)}, not the npm "
                "registry; cannot be checked against advisories"
            )
            continue
        version = str(entry.get("version", reference[4:]))
        _yarn_entry(f"{name}@npm:{version}", version, line, path, result, direct=name in direct)
    return result
