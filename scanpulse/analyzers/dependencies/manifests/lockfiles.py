"""Lock files of Rust, Ruby and PHP: ``Cargo.lock``, ``Gemfile.lock`` and ``composer.lock``."""

from __future__ import annotations

import re

from scanpulse.advisories.versions import CRATES_IO, PACKAGIST, RUBYGEMS

from .python_locks import toml_lock_packages
from .reading import decode, json_key_lines, line_of, load_json
from .results import Dependency, ManifestResult, mark_unread, show


def parse_cargo_lock(data: str | bytes, path: str) -> ManifestResult:
    """``Cargo.lock``: every ``[[package]]`` from a registry. Packages without a ``source`` are
    the workspace's own crates: what they list under ``dependencies`` is direct. Git and path
    sources cannot be checked."""
    result = ManifestResult()
    packages = list(toml_lock_packages(data, path, result))
    direct: set[str] = set()
    for package, _, _ in packages:
        if "source" not in package and isinstance(package.get("dependencies"), list):
            direct.update(
                item.split()[0] for item in package["dependencies"] if isinstance(item, str)
            )
    for package, line, where in packages:
        name, version, source = package.get("name"), package.get("version"), package.get("source")
        if not isinstance(name, str) or not isinstance(version, str):
            result.messages.append(f"{where}: package without a name or version; skipped")
            continue
        if source is None:
            continue  # the workspace's own crates
        if not isinstance(source, str) or not source.startswith(("registry+", "sparse+")):
            result.messages.append(
                f"{where}: {show(name)} comes from {show(str(source))}, not a registry; "
                "cannot be checked against advisories"
            )
            continue
        result.dependencies.append(
            Dependency(
                CRATES_IO, name, version, f"{name}@{version}", path, line, direct=name in direct
            )
        )
    return result


# Bundler's lockfile: "    name (version[-platform])" at four spaces under "  specs:".
_GEM_SPEC = re.compile(r"^    ([^\s(]+) \(([^-)\s]+)(?:-([^)]+))?\)\s*$")
_GEM_DEPENDENCY = re.compile(r"^  ([^\s(!]+)")


def parse_gemfile_lock(data: str | bytes, path: str) -> ManifestResult:
    """``Gemfile.lock``: the gems of ``GEM`` sections (a platform suffix such as
    ``-x86_64-linux`` is not part of the version); gems of ``GIT`` and ``PATH`` sections cannot
    be checked. The gems under ``DEPENDENCIES`` are direct."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    section = ""
    direct: set[str] = set()
    found: list[tuple[str, str, int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line and not line[0].isspace():
            section = line.strip()
            continue
        if section == "DEPENDENCIES":
            match = _GEM_DEPENDENCY.match(line)
            if match is not None:
                direct.add(match.group(1))
            continue
        spec = _GEM_SPEC.match(line)
        if spec is not None:
            found.append((spec.group(1), spec.group(2), number, section))
    if not found and not direct:
        mark_unread(result, path, "no GEM specs found")
        return result
    for name, version, number, where in found:
        if where != "GEM":
            result.messages.append(
                f"{path}:{number}: {show(name)} comes from a {where} source, not a gem server; "
                "cannot be checked against advisories"
            )
            continue
        result.dependencies.append(
            Dependency(
                RUBYGEMS, name, version, f"{name}@{version}", path, number, direct=name in direct
            )
        )
    return result


# A package's "name" line: its value is what json_key_lines indexes.
_COMPOSER_NAME = re.compile(r'^\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def parse_composer_lock(data: str | bytes, path: str) -> ManifestResult:
    """``composer.lock``: ``packages`` and ``packages-dev``. The file does not say which are
    required directly (``composer.json`` does), so none is marked direct. Branch versions
    (``dev-main``) cannot be checked."""
    result = ManifestResult()
    loaded = load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    if not isinstance(document, dict):
        mark_unread(result, path, "not a composer.lock object")
        return result
    names = json_key_lines(text, _COMPOSER_NAME)
    last = 0
    for table in ("packages", "packages-dev"):
        entries = document.get(table) or []
        if not isinstance(entries, list):
            result.messages.append(f"{path}: {table!r} is not a list; skipped")
            continue
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            name, version = entry.get("name"), entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str):
                result.messages.append(
                    f"{path}: {table}[{position}] has no name or version; skipped"
                )
                continue
            line = line_of(names, name, after=last)
            last = line or last
            where = f"{path}:{line}" if line is not None else f"{path}: {table}[{position}]"
            if version.startswith("dev-") or version.endswith("-dev"):
                result.messages.append(
                    f"{where}: {show(name)} is the branch {show(version)}, not a release; "
                    "cannot be checked against advisories"
                )
                continue
            result.dependencies.append(
                Dependency(PACKAGIST, name, version, f"{name}@{version}", path, line, direct=False)
            )
    return result
