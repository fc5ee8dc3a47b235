"""The ``dependencies`` analyzer: pinned dependencies in manifests checked against OSV advisories.

Severity comes from the advisory's CVSS v3 base score (≥9 critical, ≥7 high, ≥4 medium, >0 low,
0 info) and is "high" when no CVSS v3 vector is given. Unpinned requirements are info findings.
Every manifest found that was not fully checked is a gap of the result, with the reason: it
could not be read, it has no lock file next to it, or no advisory data of its ecosystem is
loaded.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanpulse.advisories.index import AdvisoryIndex
from scanpulse.advisories.matching import advisory_affects, advisory_fixed_versions, entries_for
from scanpulse.advisories.osv import Advisory, cvss3_base_score
from scanpulse.advisories.snapshot import EmptyAdvisoryIndex, SnapshotAdvisoryIndex
from scanpulse.advisories.versions import NPM, parse_version
from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Gap,
    Rule,
    Severity,
)
from scanpulse.analyzers.dependencies.manifests import (
    Dependency,
    ManifestResult,
    is_manifest,
    manifest_ecosystem,
    parse_manifest,
)

UNPINNED_RULE_ID = "SP-DEP-UNPINNED"
NO_DATABASE_NOTE = "no advisory database loaded — dependencies were not checked against advisories"
NO_DATABASE_GAP = "no advisory database loaded"
_LISTED_PATHS = 5
# Large monorepo lock files reach tens of MB; beyond this a file is not a real manifest.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_TITLE_LENGTH = 200

UNPINNED_RULE = Rule(
    id=UNPINNED_RULE_ID,
    name="UnpinnedDependency",
    short_description="Dependency version is not pinned",
    full_description=(
        "The manifest allows a range of versions, so the version that gets installed is not "
        "known and cannot be checked against security advisories."
    ),
    help_text=(
        "Pin the exact version (name==1.2.3) or commit a lock file (poetry.lock, uv.lock, "
        "Pipfile.lock, package-lock.json) next to the manifest: a requirement that another "
        "manifest in the same directory pins is checked through that pin and not reported."
    ),
    default_severity="info",
    tags=("security", "dependencies"),
)


def cvss_severity(score: float) -> Severity:
    """The CVSS v3 qualitative rating of a base score ("None" becomes info)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "info"


def advisory_severity(advisory: Advisory, ecosystem: str, name: str) -> Severity:
    """Highest CVSS v3 rating among the advisory's and this package's vectors, else "high"."""
    vectors = [*advisory.severity]
    for entry in entries_for(advisory, ecosystem, name):
        vectors.extend(entry.severity)
    scores = [
        score
        for score in (cvss3_base_score(item.score) for item in vectors if item.type == "CVSS_V3")
        if score is not None
    ]
    return cvss_severity(max(scores)) if scores else "high"


def advisory_title(advisory: Advisory) -> str:
    """The summary, else the first sentence of the details, on one line and at most 200 chars."""
    text = " ".join((advisory.summary or advisory.details).split())
    if not advisory.summary:
        end = text.find(". ")
        if 0 < end < _TITLE_LENGTH:
            text = text[:end]
    if len(text) > _TITLE_LENGTH:
        text = text[:_TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text.rstrip(".") or advisory.id


def _sentence(text: str) -> str:
    return text if text.endswith(("…", ".", "!", "?")) else f"{text}."


def _help_uri(advisory: Advisory) -> str:
    return next((ref.url for ref in advisory.references if ref.type in ("ADVISORY", "WEB")), "")


def _newer(ecosystem: str, candidate: str, current: str) -> bool:
    candidate_key, current_key = (
        parse_version(ecosystem, candidate),
        parse_version(ecosystem, current),
    )
    if candidate_key is None or current_key is None:
        return True
    return bool(candidate_key > current_key)


@dataclass(slots=True)
class _Manifest:
    """One manifest found: what parsing it gave, or why it could not be read."""

    path: str
    ecosystem: str
    parsed: ManifestResult | None = None
    read_error: str | None = None


class DependenciesAnalyzer(Analyzer):
    """Reads requirements files, lock files and pyproject.toml and reports pinned versions that
    advisories affect, one finding per dependency and (alias-merged) advisory."""

    name = "dependencies"
    step = "Checking dependencies"
    per_file = False

    def __init__(self, index: AdvisoryIndex | None = None) -> None:
        self._index = index

    def tool_version(self) -> str:
        return "1.0"

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
        dependencies = _unique(manifests)
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
        rules: dict[str, Rule] = {}
        if description is not None:
            self._check(index, pinned, result, rules)
        for dep in dependencies:
            if dep.version is None and (
                (posixpath.dirname(dep.path), dep.ecosystem, dep.normalized_name) not in locked
            ):
                result.findings.append(_unpinned_finding(dep))
        result.rules = [*rules.values(), UNPINNED_RULE]
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

        paths = sorted(path for path in context.files if is_manifest(path))
        manifests: list[_Manifest] = []
        context.progress(0, len(paths))
        for done, path in enumerate(paths, start=1):
            if context.is_cancelled():
                break
            manifest = _Manifest(path, manifest_ecosystem(path))
            problems: list[str] = []
            data = _read(context.root, path, problems)
            result.errors.extend(problems)
            if data is None:
                manifest.read_error = (
                    problems[0].removeprefix(f"{path}: ").removesuffix("; skipped")
                )
            else:
                manifest.parsed = parse_manifest(data, path, include=include)
                result.errors.extend(manifest.parsed.messages)
                result.files_analyzed += 1
            manifests.append(manifest)
            context.progress(done, len(paths))
        return manifests

    def _check(
        self,
        index: AdvisoryIndex,
        pinned: list[tuple[Dependency, str]],
        result: AnalyzerResult,
        rules: dict[str, Rule],
    ) -> None:
        advisories: dict[tuple[str, str], list[Advisory]] = {}
        for dep, version in pinned:
            package = (dep.ecosystem, dep.normalized_name)
            if package not in advisories:
                advisories[package] = index.lookup(dep.ecosystem, dep.name)
            candidates = advisories[package]
            if candidates and parse_version(dep.ecosystem, version) is None:
                scheme = "SemVer" if dep.ecosystem == NPM else "PEP 440"
                where = f"{dep.path}:{dep.line}" if dep.line is not None else dep.path
                result.errors.append(
                    f"{where}: {dep.normalized_name} version {version!r} is not a valid {scheme} "
                    "version; only advisories listing it exactly were checked"
                )
            for advisory in candidates:
                if advisory_affects(advisory, dep.ecosystem, dep.name, version):
                    finding, rule = _advisory_finding(dep, version, advisory)
                    result.findings.append(finding)
                    rules.setdefault(rule.id, rule)


def _unique(manifests: list[_Manifest]) -> list[Dependency]:
    """The dependencies of all manifests, each once: a file included with -r that is itself a
    manifest is read twice."""
    found: dict[tuple[str, str, str | None, str, int | None], Dependency] = {}
    for manifest in manifests:
        for dep in manifest.parsed.dependencies if manifest.parsed is not None else ():
            key = (dep.ecosystem, dep.normalized_name, dep.version, dep.path, dep.line)
            found.setdefault(key, dep)
    return list(found.values())


def _to_check(manifest: _Manifest) -> bool:
    """Whether the manifest has dependencies to check (a pyproject.toml may have none)."""
    return manifest.parsed is not None and bool(manifest.parsed.dependencies)


def _missing_data_notes(manifests: list[_Manifest], loaded: frozenset[str]) -> list[str]:
    """One note per ecosystem found without advisory data loaded for it."""
    missing: dict[str, list[str]] = {}
    for manifest in manifests:
        if _to_check(manifest) and manifest.ecosystem not in loaded:
            missing.setdefault(manifest.ecosystem, []).append(manifest.path)
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
    elif manifest.ecosystem not in loaded:
        gaps.append(Gap(path, "not_checked", f"no advisory data loaded for {manifest.ecosystem}"))
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


def _advisory_finding(
    dep: Dependency, version: str, advisory: Advisory
) -> tuple[AnalyzerFinding, Rule]:
    name = dep.normalized_name
    fixed = advisory_fixed_versions(advisory, dep.ecosystem, dep.name)
    upgrades = [candidate for candidate in fixed if _newer(dep.ecosystem, candidate, version)]
    title = advisory_title(advisory)
    severity = advisory_severity(advisory, dep.ecosystem, dep.name)
    also = f" ({', '.join(advisory.aliases)})" if advisory.aliases else ""
    remedy = (
        f"Fixed in {', '.join(upgrades)}."
        if upgrades
        else f"No fixed version newer than {version} is listed."
    )
    properties: dict[str, Any] = {
        "package": name,
        "version": version,
        "ecosystem": dep.ecosystem,
        "advisory_ids": [advisory.id, *advisory.aliases],
        "fixed_versions": fixed,
        # Whether a fixed version newer than this one exists, and since when the advisory is
        # known (quality gates age fixable alerts by it; ``modified`` if it has no date).
        "fix_available": bool(upgrades),
        "published": advisory.published or advisory.modified,
        "manifest": dep.path,
        "direct": dep.direct,
    }
    finding = AnalyzerFinding(
        rule_id=advisory.id,
        severity=severity,
        confidence="high",
        path=dep.path,
        start_line=dep.line,
        end_line=dep.line,
        message=f"{name} {version} is affected by {advisory.id}{also}: {_sentence(title)} {remedy}",
        snippet=dep.requirement(),
        properties=properties,
    )
    if fixed:
        remediation = (
            f"Fixed versions of {name}: {', '.join(fixed)}. Upgrade to the fixed version of "
            "your release line or later."
        )
    else:
        remediation = f"No fixed version of {name} is listed; consider replacing it."
    rule = Rule(
        id=advisory.id,
        name=advisory.id,
        short_description=title,
        full_description=advisory.details or advisory.summary,
        help_text=f"{advisory.details or advisory.summary}\n\n{remediation}".strip(),
        help_uri=_help_uri(advisory),
        default_severity=severity,
        tags=("security", "dependencies", "vulnerability"),
    )
    return finding, rule


def _unpinned_finding(dep: Dependency) -> AnalyzerFinding:
    requirement = dep.requirement()
    return AnalyzerFinding(
        rule_id=UNPINNED_RULE_ID,
        severity="info",
        confidence="high",
        path=dep.path,
        start_line=dep.line,
        end_line=dep.line,
        message=f"{requirement} is not pinned; cannot be checked against advisories",
        snippet=requirement,
        properties={
            "package": dep.normalized_name,
            "ecosystem": dep.ecosystem,
            "spec": dep.spec,
            "manifest": dep.path,
            "direct": dep.direct,
        },
    )
