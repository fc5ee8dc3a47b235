"""npm's ``package.json`` and its lock files (``package-lock.json``, ``npm-shrinkwrap.json``)."""

from __future__ import annotations

import re
from typing import Any

from scanpulse.advisories.versions import NPM

from .reading import JSON_KEY, json_key_lines, line_of, load_json, read_tables
from .results import Dependency, ManifestResult, mark_unread, show

_NPM_TABLES = ("dependencies", "devDependencies", "optionalDependencies")
NPM_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
# Any of these next to a package.json pins what it asks for.
JS_LOCKFILES = (*NPM_LOCKFILES, "yarn.lock", "pnpm-lock.yaml")
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
    result = ManifestResult(lockfiles=JS_LOCKFILES)
    loaded = load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        mark_unread(result, path, "not a package.json object")
        return result
    tables = ((table, document[table]) for table in _NPM_TABLES if document.get(table) is not None)
    read_tables(json_key_lines(text, JSON_KEY), tables, path, result, _npm_dependency)
    return result


def _npm_dependency(
    name: str, spec: object, path: str, line: int | None, where: str, result: ManifestResult
) -> Dependency | None:
    if not isinstance(spec, str):
        result.messages.append(f"{where}: version of {show(name)} is not a string; skipped")
        return None
    written = spec.strip()
    package = name
    if written.lower().startswith("npm:"):  # an alias: "npm:real-name@range"
        target = written[4:]
        at = target.rfind("@")
        package, written = (target[:at], target[at + 1 :]) if at > 0 else (target, "")
    if _NPM_NOT_REGISTRY.search(written):
        result.messages.append(
            f"{where}: {show(name)} comes from {show(written)}, not the npm registry; "
            "cannot be checked against advisories"
        )
        return None
    exact = _NPM_EXACT.fullmatch(written)
    version = exact.group(1) if exact is not None else None
    return Dependency(NPM, package, version, f"{package}@{written or '*'}", path, line, direct=True)


_NODE_MODULES = "node_modules/"


def parse_package_lock(data: str | bytes, path: str) -> ManifestResult:
    """``package-lock.json`` v2/v3: every ``node_modules/…`` entry of the ``packages`` map.

    The name comes from the last ``node_modules/`` segment of the key (so nested and scoped
    packages work) unless the entry names the real package (npm aliases). The root ``""`` entry,
    workspace folders and ``link: true`` entries are the project's own code and are skipped.
    """
    result = ManifestResult()
    loaded = load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        mark_unread(result, path, "not a package-lock object")
        return result
    packages = document.get("packages")
    if not isinstance(packages, dict):
        if "dependencies" in document:
            reason = "lockfileVersion 1 is not supported; regenerate it with npm 7 or later"
            result.messages.append(f"{path}: {reason}")
            result.unread = reason
        else:
            mark_unread(result, path, "no 'packages' map")
        return result
    root = packages.get("")
    direct = _npm_direct_names(root if isinstance(root, dict) else {})
    keys = json_key_lines(text)
    for key, entry in packages.items():
        if _NODE_MODULES not in key:
            continue
        line = line_of(keys, key)
        where = f"{path}:{line}" if line is not None else f"{path}: {key}"
        if not isinstance(entry, dict):
            result.messages.append(f"{where}: entry {show(key)} is not an object; skipped")
            continue
        if entry.get("link") is True:
            continue
        installed_as = key[key.rfind(_NODE_MODULES) + len(_NODE_MODULES) :]
        name = entry.get("name") if isinstance(entry.get("name"), str) else installed_as
        version = entry.get("version")
        if not name:
            result.messages.append(f"{where}: entry {show(key)} has no package name; skipped")
            continue
        if not isinstance(version, str) or not version.strip():
            result.messages.append(f"{where}: {show(name)} has no version; cannot be checked")
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
