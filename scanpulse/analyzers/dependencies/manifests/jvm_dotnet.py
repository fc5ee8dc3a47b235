"""Maven's ``pom.xml``, Gradle's ``gradle.lockfile`` and NuGet's ``packages.lock.json`` and
``*.csproj``. The XML files are parsed without DTDs or entities and nothing is ever built:
properties are resolved within the file only, and a version that cannot be is reported, never
guessed."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from scanpulse.advisories.versions import MAVEN, NUGET

from .reading import (
    child_text,
    decode,
    json_key_lines,
    line_containing,
    line_of,
    load_json,
    load_xml,
)
from .results import Dependency, ManifestResult, mark_unread, show

_PROPERTY = re.compile(r"\$\{([^}]+)\}")
# A Maven or NuGet version range ("[1.0,2.0)", "(,1.0]") or a NuGet floating version ("1.*").
_RANGE = re.compile(r"[\[\](),*]")
_MSBUILD_PROPERTY = re.compile(r"\$\(([^)]+)\)")
_EXACT_NUGET = re.compile(r"\[\s*([^,\[\]()\s]+)\s*\]")


def _resolve(
    value: str, properties: dict[str, str], pattern: re.Pattern[str] = _PROPERTY
) -> str | None:
    """``value`` with every ``${name}`` (``pattern``) replaced from ``properties``; ``None`` if
    one is not defined in the file (it may come from a parent POM or the command line)."""
    for _ in range(10):  # properties referring to properties, a few levels deep
        names = pattern.findall(value)
        if not names:
            return value
        if any(name not in properties for name in names):
            return None
        value = pattern.sub(lambda m: properties[m.group(1)], value)
    return None


def parse_pom(data: str | bytes, path: str) -> ManifestResult:
    """``pom.xml``: ``dependencies`` (of the project and its profiles) as ``groupId:artifactId``.
    A version is a literal, a ``${property}`` of this file's ``properties`` (or
    ``project.version``/``project.parent.version``), or the version this file's
    ``dependencyManagement`` gives. Anything else (a parent POM's property or management, a
    BOM import) cannot be resolved here and is reported; a version range is unpinned."""
    result = ManifestResult()
    loaded = load_xml(data, path, result)
    if loaded is None:
        return result
    text, project = loaded
    if project.tag != "project":
        mark_unread(result, path, "not a Maven POM (no <project> root)")
        return result
    properties: dict[str, str] = {}
    for container in [project, *project.findall("profiles/profile")]:
        for block in container.findall("properties"):
            for prop in block:
                if isinstance(prop.tag, str):
                    properties.setdefault(prop.tag, (prop.text or "").strip())
    parent = project.find("parent")
    parent_version = child_text(parent, "version") if parent is not None else None
    own_version = child_text(project, "version") or parent_version
    for key, value in (("project.version", own_version), ("version", own_version)):
        if value is not None:
            properties.setdefault(key, value)
    if parent_version is not None:
        properties.setdefault("project.parent.version", parent_version)
    managed: dict[str, str] = {}
    for dependency in project.findall("dependencyManagement/dependencies/dependency"):
        name = _coordinates(dependency, properties)
        version = child_text(dependency, "version")
        if name is not None and version is not None:
            managed.setdefault(name, version)
    containers = [project, *project.findall("profiles/profile")]
    # line numbers: dependencies are written after dependencyManagement, if there is one
    last = line_containing(text, "</dependencyManagement>") or 0
    for container in containers:
        for dependency in container.findall("dependencies/dependency"):
            _pom_dependency(dependency, properties, managed, text, path, result, last)
            if result.dependencies and result.dependencies[-1].line:
                last = result.dependencies[-1].line or last
    return result


def _coordinates(dependency: Element, properties: dict[str, str]) -> str | None:
    group, artifact = child_text(dependency, "groupId"), child_text(dependency, "artifactId")
    if group is None or artifact is None:
        return None
    group, artifact = _resolve(group, properties), _resolve(artifact, properties)
    if group is None or artifact is None:
        return None
    return f"{group}:{artifact}"


def _pom_dependency(
    dependency: Element,
    properties: dict[str, str],
    managed: dict[str, str],
    text: str,
    path: str,
    result: ManifestResult,
    after: int,
) -> None:
    artifact = child_text(dependency, "artifactId") or ""
    line = line_containing(text, f">{artifact}<", after=after) if artifact else None
    where = f"{path}:{line}" if line is not None else path
    name = _coordinates(dependency, properties)
    if name is None:
        result.messages.append(
            f"{where}: dependency {show(artifact)} has no groupId/artifactId this file "
            "resolves; skipped"
        )
        return
    written = child_text(dependency, "version")
    if written is None:
        written = managed.get(name)
    if written is None:
        result.messages.append(
            f"{where}: {show(name)} has no version in this file (a parent POM or an imported "
            "BOM manages it); cannot be checked"
        )
        return
    version = _resolve(written, properties)
    if version is None:
        result.messages.append(
            f"{where}: {show(name)} version {show(written)} uses a property this file does not "
            "define; cannot be checked"
        )
        return
    pinned = None if _RANGE.search(version) else version
    spec = f"{name}@{version}"
    result.dependencies.append(Dependency(MAVEN, name, pinned, spec, path, line, direct=True))


def parse_gradle_lockfile(data: str | bytes, path: str) -> ManifestResult:
    """``gradle.lockfile``: ``group:artifact:version=configurations`` lines (``empty=`` and
    comments skipped). The file does not say which dependencies are direct."""
    result = ManifestResult()
    text = decode(data, path, result)
    if text is None:
        return result
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("empty="):
            continue
        coordinates = line.split("=", 1)[0]
        parts = coordinates.split(":")
        if len(parts) != 3 or not all(parts):
            result.messages.append(f"{path}:{number}: cannot parse {show(line)}")
            continue
        group, artifact, version = parts
        name = f"{group}:{artifact}"
        result.dependencies.append(
            Dependency(MAVEN, name, version, f"{name}@{version}", path, number, direct=False)
        )
    return result


def parse_packages_lock(data: str | bytes, path: str) -> ManifestResult:
    """NuGet's ``packages.lock.json``: every package of every target framework, ``Direct`` or
    ``Transitive`` as the file says; ``Project`` entries are the solution's own projects."""
    result = ManifestResult()
    loaded = load_json(data, path, result)
    if loaded is None:
        return result
    text, document = loaded
    frameworks = document.get("dependencies") if isinstance(document, dict) else None
    if not isinstance(frameworks, dict):
        mark_unread(result, path, "no 'dependencies' map")
        return result
    keys = json_key_lines(text)
    for framework, packages in frameworks.items():
        if not isinstance(packages, dict):
            result.messages.append(f"{path}: {show(framework)} is not an object; skipped")
            continue
        framework_line = line_of(keys, framework) or 0
        for name, entry in packages.items():
            line = line_of(keys, name, after=framework_line)
            where = f"{path}:{line}" if line is not None else f"{path}: {framework}[{name!r}]"
            if not isinstance(entry, dict):
                result.messages.append(f"{where}: entry {show(name)} is not an object; skipped")
                continue
            kind = entry.get("type")
            if kind == "Project":
                continue
            version = entry.get("resolved")
            if not isinstance(version, str) or not version.strip():
                result.messages.append(f"{where}: {show(name)} has no resolved version; skipped")
                continue
            result.dependencies.append(
                Dependency(
                    NUGET,
                    name,
                    version.strip(),
                    f"{name}@{version.strip()}",
                    path,
                    line,
                    direct=kind == "Direct",
                )
            )
    return result


def parse_csproj(data: str | bytes, path: str) -> ManifestResult:
    """An SDK-style project file's ``PackageReference`` items (``Version`` attribute or
    element, ``$(Property)`` from this file's ``PropertyGroup``). A plain version (``12.0.1``)
    or ``[12.0.1]`` is a pin (NuGet restores that version when it exists); ranges and floating
    versions (``[1.0,2.0)``, ``1.*``) are unpinned; a version managed centrally
    (``Directory.Packages.props``) or by a property defined elsewhere cannot be checked."""
    result = ManifestResult()
    loaded = load_xml(data, path, result)
    if loaded is None:
        return result
    text, project = loaded
    properties: dict[str, str] = {}
    for group in project.iter("PropertyGroup"):
        for prop in group:
            if isinstance(prop.tag, str):
                properties.setdefault(prop.tag, (prop.text or "").strip())
    for reference in project.iter("PackageReference"):
        name = reference.get("Include")
        if not name:
            continue  # Update="…" items change packages referenced elsewhere
        line = line_containing(text, f'"{name}"')
        where = f"{path}:{line}" if line is not None else path
        written = reference.get("Version") or reference.get("VersionOverride")
        if written is None:
            written = child_text(reference, "Version")
        if written is None:
            result.messages.append(
                f"{where}: {show(name)} has no version in this file (central package "
                "management); cannot be checked"
            )
            continue
        version = _resolve(written.strip(), properties, _MSBUILD_PROPERTY)
        if version is None:
            result.messages.append(
                f"{where}: {show(name)} version {show(written)} uses a property this file does "
                "not define; cannot be checked"
            )
            continue
        exact = _EXACT_NUGET.fullmatch(version)
        pinned = exact.group(1) if exact else None if _RANGE.search(version) else version
        result.dependencies.append(
            Dependency(NUGET, name, pinned, f"{name}@{version}", path, line, direct=True)
        )
    return result
