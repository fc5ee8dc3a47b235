"""The ``dependencies`` analyzer: pinned dependencies in manifests checked against OSV advisories.

One finding per vulnerable package version in a manifest, listing its advisories and the
smallest version that fixes them all (``findings``); unpinned requirements are info findings.
Every manifest found that was not fully checked is a gap of the result, with the reason: it
could not be read, it has no lock file next to it, or no advisory data of its ecosystem is
loaded.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanpulse.advisories.index import AdvisoryIndex
from scanpulse.advisories.matching import advisory_affects
from scanpulse.advisories.osv import Advisory
from scanpulse.advisories.snapshot import EmptyAdvisoryIndex, SnapshotAdvisoryIndex
from scanpulse.advisories.versions import GO, SCHEME_NAMES, parse_version
from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerResult,
    Gap,
    Rule,
    severity_rank,
)
from scanpulse.analyzers.dependencies.findings import (
    UNPINNED_RULE,
    UNPINNED_RULE_ID,
    VULNERABLE_RULE,
    VULNERABLE_RULE_ID,
    advisory_severity,
    advisory_title,
    cvss_severity,
    unpinned_finding,
    vulnerable_finding,
)
from scanpulse.analyzers.dependencies.manifests import (
    Dependency,
    ManifestResult,
    is_manifest,
    manifest_ecosystem,
    parse_manifest,
)
from scanpulse.analyzers.dependencies.manifests.cyclonedx import parse_cyclonedx

__all__ = [
    "NO_DATABASE_NOTE",
    "UNPINNED_RULE_ID",
    "VULNERABLE_RULE_ID",
    "DependenciesAnalyzer",
    "advisory_severity",
    "advisory_title",
    "cvss_severity",
]

NO_DATABASE_NOTE = "no advisory database loaded — dependencies were not checked against advisories"
NO_DATABASE_GAP = "no advisory database loaded"
# The ecosystem of an SBOM: each of its components has its own.
SBOM_ECOSYSTEMS = "*"
_LISTED_PATHS = 5
# Large monorepo lock files reach tens of MB; beyond this a file is not a real manifest.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class _Manifest:
    """One manifest found: what parsing it gave, or why it could not be read."""

    path: str
    ecosystem: str
    parsed: ManifestResult | None = None
    read_error: str | None = None

    def ecosystems(self) -> set[str]:
        """The ecosystems its dependencies belong to (an SBOM's are many)."""
        if self.ecosystem != SBOM_ECOSYSTEMS:
            return {self.ecosystem}
        parsed = self.parsed.dependencies if self.parsed is not None else ()
        return {dep.ecosystem for dep in parsed}


class DependenciesAnalyzer(Analyzer):
    """Reads requirements files, lock files and pyproject.toml and reports pinned versions that
    advisories affect: one finding per package version in a manifest, listing its (alias-merged)
    advisories and the upgrade that fixes them."""

    name = "dependencies"
    step = "Checking dependencies"
    per_file = False

    def __init__(self, index: AdvisoryIndex | None = None) -> None:
        self._index = index

    def tool_version(self) -> str:
        # 2.0: one finding per vulnerable package version (1.0: one per advisory).
        return "2.0"

    def _advisory_index(self, context: AnalyzerContext) -> AdvisoryIndex:
        """The index given to the constructor, else the snapshot file the pipeline exported
        (option ``advisory_snapshot``), else an empty index (reported as "not loaded")."""
        if self._index is None:
            snapshot = context.options.get("advisory_snapshot")
            self._index = SnapshotAdvisoryIndex(snapshot) if snapshot else EmptyAdvisoryIndex()
        return self._index

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        index = self._advisory_index(context)
        result = AnalyzerResult(tool=self.name, tool_version=self.tool_version())
        manifests = self._collect(context, result)
        dependencies = _go_once(_unique(manifests))
        description = index.description()
        loaded = index.ecosystems() if description is not None else frozenset()
        if description is None:
            result.notes.append(NO_DATABASE_NOTE)
        else:
            covers = f" (advisories for {', '.join(sorted(loaded))})" if loaded else ""
            result.notes.append(f"advisory database: {description}{covers}")
            result.notes.extend(_missing_data_notes(manifests, loaded))
        pinned = [(dep, dep.version) for dep in dependencies if dep.version is not None]
        locked = {
            (posixpath.dirname(dep.path), dep.ecosystem, dep.normalized_name) for dep, _ in pinned
        }
        result.inventory = inventory(dependencies)
        if description is not None:
            self._check(index, pinned, result)
        rules: list[Rule] = [UNPINNED_RULE]
        vulnerable = [f.severity for f in result.findings if f.rule_id == VULNERABLE_RULE_ID]
        if vulnerable:
            # GitHub code scanning ranks an alert by its rule's severity: the rule takes the
            # highest of the run's, so no vulnerable dependency is shown below its own.
            worst = min(vulnerable, key=severity_rank)
            rules.insert(0, dataclasses.replace(VULNERABLE_RULE, default_severity=worst))
        for dep in dependencies:
            if dep.version is None and (
                (posixpath.dirname(dep.path), dep.ecosystem, dep.normalized_name) not in locked
            ):
                result.findings.append(unpinned_finding(dep))
        result.rules = rules
        result.findings.sort(key=lambda f: (f.path, f.start_line or 0, f.rule_id))
        result.errors = list(dict.fromkeys(result.errors))
        present = set(context.files)
        for manifest in manifests:
            result.gaps.extend(
                _manifest_gaps(
                    manifest, database=description is not None, loaded=loaded, present=present
                )
            )
        return result

    def _collect(self, context: AnalyzerContext, result: AnalyzerResult) -> list[_Manifest]:
        available = set(context.files)

        def include(path: str) -> bytes | None:
            # Only files the pipeline vetted (inside the checkout, no symlinks) may be included.
            if path not in available:
                return None
            return _read(context.root, path, [])

        # An uploaded CycloneDX SBOM (option ``sbom``: its path) is read as a manifest too.
        sbom = context.options.get("sbom")
        paths = sorted(path for path in context.files if is_manifest(path) and path != sbom)
        if isinstance(sbom, str) and sbom in available:
            paths.append(sbom)
        manifests: list[_Manifest] = []
        context.progress(0, len(paths))
        for done, path in enumerate(paths, start=1):
            if context.is_cancelled():
                break
            is_sbom = path == sbom
            manifest = _Manifest(path, SBOM_ECOSYSTEMS if is_sbom else manifest_ecosystem(path))
            problems: list[str] = []
            data = _read(context.root, path, problems)
            result.errors.extend(problems)
            if data is None:
                manifest.read_error = (
                    problems[0].removeprefix(f"{path}: ").removesuffix("; skipped")
                )
            else:
                manifest.parsed = (
                    parse_cyclonedx(data, path)
                    if is_sbom
                    else parse_manifest(data, path, include=include)
                )
                result.errors.extend(manifest.parsed.messages)
                result.files_analyzed += 1
            manifests.append(manifest)
            context.progress(done, len(paths))
        return manifests

    def _check(
        self, index: AdvisoryIndex, pinned: list[tuple[Dependency, str]], result: AnalyzerResult
    ) -> None:
        """One finding per package version pinned in a manifest that advisories affect; a
        version pinned on several lines of one manifest is one finding, at its first line."""
        advisories: dict[tuple[str, str], list[Advisory]] = {}
        groups: dict[tuple[str, str, str, str], list[Dependency]] = {}
        for dep, version in pinned:
            package = (dep.ecosystem, dep.normalized_name)
            if package not in advisories:
                advisories[package] = index.lookup(dep.ecosystem, dep.name)
            if advisories[package] and parse_version(dep.ecosystem, version) is None:
                scheme = SCHEME_NAMES.get(dep.ecosystem, dep.ecosystem)
                where = f"{dep.path}:{dep.line}" if dep.line is not None else dep.path
                result.errors.append(
                    f"{where}: {dep.normalized_name} version {version!r} is not a valid {scheme} "
                    "version; only advisories listing it exactly were checked"
                )
            groups.setdefault((dep.path, *package, version), []).append(dep)
        for (_, ecosystem, name, version), occurrences in groups.items():
            affecting = [
                advisory
                for advisory in advisories[(ecosystem, name)]
                if advisory_affects(advisory, ecosystem, name, version)
            ]
            if affecting:
                result.findings.append(
                    vulnerable_finding(
                        occurrences, version, affecting, advisories[(ecosystem, name)]
                    )
                )


def inventory(dependencies: list[Dependency]) -> list[dict[str, Any]]:
    """The pinned packages, each once per manifest: what the scan stores as its dependency
    inventory (re-matched when advisories change, exported as an SBOM). A package pinned
    in several places of one manifest is direct when any of them is."""
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for dep in dependencies:
        if dep.version is None:
            continue
        key = (dep.path, dep.ecosystem, dep.normalized_name, dep.version)
        item = found.get(key)
        if item is None:
            found[key] = {
                "ecosystem": dep.ecosystem,
                "name": dep.normalized_name,
                "version": dep.version,
                "path": dep.path,
                "line": dep.line,
                "direct": dep.direct,
            }
        else:
            item["direct"] = bool(item["direct"]) or dep.direct
            if item["line"] is None or (dep.line is not None and dep.line < item["line"]):
                item["line"] = dep.line
    return [found[key] for key in sorted(found)]


def _unique(manifests: list[_Manifest]) -> list[Dependency]:
    """The dependencies of all manifests, each once: a file included with -r that is itself a
    manifest is read twice."""
    found: dict[tuple[str, str, str | None, str, int | None], Dependency] = {}
    for manifest in manifests:
        for dep in manifest.parsed.dependencies if manifest.parsed is not None else ():
            key = (dep.ecosystem, dep.normalized_name, dep.version, dep.path, dep.line)
            found.setdefault(key, dep)
    return list(found.values())


def _go_once(dependencies: list[Dependency]) -> list[Dependency]:
    """Each Go module version once per module: a ``go.sum`` entry that its module's ``go.mod``
    (the one beside it) requires at the same version is that requirement, not another
    dependency, so it is neither a second finding nor a second inventory item. ``go.sum``
    stays the location of what ``go.mod`` does not list (or lists at another version)."""
    required = {
        (posixpath.dirname(dep.path), dep.normalized_name, dep.version)
        for dep in dependencies
        if dep.ecosystem == GO and posixpath.basename(dep.path) == "go.mod"
    }
    return [
        dep
        for dep in dependencies
        if not (
            dep.ecosystem == GO
            and posixpath.basename(dep.path) == "go.sum"
            and (posixpath.dirname(dep.path), dep.normalized_name, dep.version) in required
        )
    ]


def _to_check(manifest: _Manifest) -> bool:
    """Whether the manifest has dependencies to check (a pyproject.toml may have none)."""
    return manifest.parsed is not None and bool(manifest.parsed.dependencies)


def _missing_data_notes(manifests: list[_Manifest], loaded: frozenset[str]) -> list[str]:
    """One note per ecosystem found without advisory data loaded for it."""
    missing: dict[str, list[str]] = {}
    for manifest in manifests:
        if not _to_check(manifest):
            continue
        for ecosystem in sorted(manifest.ecosystems() - loaded):
            missing.setdefault(ecosystem, []).append(manifest.path)
    notes = []
    for ecosystem, paths in sorted(missing.items()):
        listed = ", ".join(paths[:_LISTED_PATHS])
        if len(paths) > _LISTED_PATHS:
            listed += f" and {len(paths) - _LISTED_PATHS} more"
        noun = "manifest" if len(paths) == 1 else "manifests"
        notes.append(
            f"no advisory data loaded for {ecosystem} — {len(paths)} {noun} not checked against "
            f"advisories: {listed}"
        )
    return notes


def _problem(message: str, path: str) -> str:
    """A parser message about ``path`` as a gap reason: ``"line 3: cannot parse …"``."""
    rest = message.removeprefix(f"{path}:")
    if rest == message:
        return message  # about an included file: its own name stays
    number, separator, text = rest.partition(": ")
    if separator and number.isdigit():
        return f"line {number}: {text}"
    return rest.strip()


def _manifest_gaps(
    manifest: _Manifest, *, database: bool, loaded: frozenset[str], present: set[str]
) -> list[Gap]:
    """Why the manifest was not fully checked, if it was not: nothing when it was."""
    path = manifest.path
    if manifest.read_error is not None:
        return [Gap(path, "not_checked", manifest.read_error)]
    parsed = manifest.parsed
    assert parsed is not None
    if parsed.unread is not None:
        return [Gap(path, "not_checked", parsed.unread)]
    gaps = []
    if parsed.messages:
        reason = _problem(parsed.messages[0], path)
        if len(parsed.messages) > 1:
            more = len(parsed.messages) - 1
            reason += f" (and {more} more problem{'s' if more > 1 else ''})"
        gaps.append(Gap(path, "partial", reason))
    if not parsed.dependencies:
        return gaps
    if not database:
        gaps.append(Gap(path, "not_checked", NO_DATABASE_GAP))
    elif manifest.ecosystems() - loaded:
        missing = ", ".join(sorted(manifest.ecosystems() - loaded))
        gaps.append(Gap(path, "not_checked", f"no advisory data loaded for {missing}"))
    directory = posixpath.dirname(path)
    if parsed.lockfiles and not any(
        posixpath.join(directory, lockfile) in present for lockfile in parsed.lockfiles
    ):
        pinned = any(dep.version is not None for dep in parsed.dependencies)
        gaps.append(
            Gap(
                path,
                "partial" if pinned else "not_checked",
                f"no lockfile ({' or '.join(parsed.lockfiles)}) next to it: version ranges and "
                "the dependencies of its dependencies are not checked",
            )
        )
    return gaps


def _read(root: Path, path: str, errors: list[str]) -> bytes | None:
    try:
        with (root / path).open("rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        errors.append(f"{path}: cannot read ({exc.strerror or exc}); skipped")
        return None
    if len(data) > MAX_MANIFEST_BYTES:
        errors.append(f"{path}: larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB; skipped")
        return None
    return data
