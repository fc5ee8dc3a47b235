"""One scan from source to results, as a plain function: fetch, discover, analyze.

No database and no request objects here: the caller passes settings, a reporter for progress,
a cancellation check and a result cache, and receives everything the analyzers produced.
Persisting it is the caller's business (``scanpulse.scans.results``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from scanpulse.analyzers.base import Analyzer, AnalyzerResult, Gap
from scanpulse.analyzers.files import Discovery, discover_files
from scanpulse.analyzers.redaction import options_key
from scanpulse.analyzers.registry import load_analyzers
from scanpulse.analyzers.result_cache import ResultCache
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import (
    AnalyzerCancelled,
    AnalyzerFailure,
    Callbacks,
    Limits,
    TooManyFindings,
)

from .coverage import analyzer_gaps, discovery_gaps, gap_label
from .excerpts import finding_excerpts
from .fingerprints import assign_fingerprints, occurrence_indexes
from .globs import matches_any
from .noise import NoiseConfig, analyzer_files, apply_noise_config, read_noise_config, select_files
from .repo_config import RepoConfigError
from .rule_pack import (
    RULE_PACK_ANALYZER,
    families_off,
    rule_pack_options,
    superseded_bandit_checks,
)
from .source import Checkout, FetchCancelled, FetchLimits, GitAuth, fetch
from .workspace import workspace

# Overall progress: fetching takes the first part, analysis the bulk, saving the rest.
FETCHED_PERCENT = 10
ANALYZED_PERCENT = 85


class Reporter(Protocol):
    def step(self, name: str, *, progress: int | None = None, **details: Any) -> None: ...

    def progress(self, percent: int) -> None: ...

    def log(self, message: str, *, level: str = "info") -> None: ...

    def findings(self, count: int, **details: Any) -> None: ...

    def checked_out(self, ref: str, commit_sha: str) -> None: ...

    def thread_done(self) -> None:
        """A thread the pipeline started reports no more: release what it holds."""


class ScanCancelled(Exception):
    """The scan was cancelled; whatever ran has been stopped."""


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    work_dir: Path
    fetch: FetchLimits
    analyzers: Sequence[str]
    limits: Limits
    max_file_size: int
    options: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    plugin_paths: Sequence[str] = ()  # import directories of analyzers not installed as packages
    # The project's default configuration (``.scanpulse.toml`` format), used when the
    # repository has none of its own.
    project_config: str = ""
    # The project's credentials for fetching, unsealed just before the scan (never logged).
    auth: GitAuth | None = field(default=None, repr=False)
    # Files that are the scan's source instead of a repository (an uploaded SBOM), by
    # name: the fetch writes them into an empty checkout.
    upload: Mapping[str, bytes] | None = field(default=None, repr=False)
    # What the upload is, for the progress step ("Reading the uploaded SBOM").
    upload_kind: str = "SBOM"


@dataclass(slots=True)
class AnalyzerOutcome:
    """One analyzer's result, with the fingerprint and occurrence index of each finding."""

    result: AnalyzerResult
    failed: bool
    started: datetime
    finished: datetime
    fingerprints: list[str]
    occurrences: list[int]
    removed: dict[str, int] = field(default_factory=dict)  # by configuration rule
    # The code around each finding, secrets masked (``.excerpts``); None: none to show.
    excerpts: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def tool(self) -> str:
        return self.result.tool


@dataclass(slots=True)
class PipelineOutput:
    commit_sha: str
    files: int
    skipped: list[str]
    outcomes: list[AnalyzerOutcome]
    skipped_gaps: list[Gap] = field(default_factory=list)  # ``skipped``, one gap per file
    config_source: str = "none"  # which configuration applied (``pipeline.noise``)
    excluded_files: dict[str, int] = field(default_factory=dict)  # by ``exclude`` glob
    # The configuration applied, and the analyzers it turned off (name → its source): what no
    # longer reports a finding because of them is excluded, not fixed (``pipeline.absence``).
    noise: NoiseConfig | None = None
    turned_off: dict[str, str] = field(default_factory=dict)

    def removed(self) -> dict[str, int]:
        """The findings each configuration rule removed (or dismissed), over all analyzers."""
        total: dict[str, int] = {}
        for outcome in self.outcomes:
            for label, count in outcome.removed.items():
                total[label] = total.get(label, 0) + count
        return total

    @property
    def any_succeeded(self) -> bool:
        return any(not outcome.failed for outcome in self.outcomes)

    def gaps(self) -> list[dict[str, Any]]:
        """Everything the scan did not look at: failed analyzers, skipped and partly analyzed
        files, manifests not checked (see ``pipeline.coverage``)."""
        gaps = discovery_gaps(self.skipped_gaps)
        for outcome in self.outcomes:
            gaps += analyzer_gaps(outcome.tool, outcome.result, failed=outcome.failed)
        return gaps


class _Progress:
    """Combines the analyzers' (done, total) into one percentage for the scan."""

    def __init__(self, reporter: Reporter, names: Sequence[str]) -> None:
        self.reporter = reporter
        self.fractions = dict.fromkeys(names, 0.0)
        self.lock = threading.Lock()

    def update(self, name: str, done: int, total: int) -> None:
        with self.lock:
            self.fractions[name] = 1.0 if total <= 0 else min(1.0, done / total)
            share = sum(self.fractions.values()) / max(1, len(self.fractions))
        self.reporter.progress(FETCHED_PERCENT + int((ANALYZED_PERCENT - FETCHED_PERCENT) * share))


_LINE_PREFIX = re.compile(r"^line \d+: ")
_MORE_SUFFIX = re.compile(r" \(and \d+ more problems?\)$")


def _untold(result: AnalyzerResult) -> list[Gap]:
    """Gaps that no error of the result already told the user about (a manifest without
    advisory data, without a lock file, …)."""
    errors: dict[str, list[str]] = {}
    for error in result.errors:
        errors.setdefault(error.split(":", 1)[0], []).append(error)
    untold = []
    for gap in result.gaps:
        core = _MORE_SUFFIX.sub("", _LINE_PREFIX.sub("", gap.reason))
        if not any(core in error for error in errors.get(gap.path, ())):
            untold.append(gap)
    return untold


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def run_pipeline(
    *,
    location: str,
    ref: str,
    settings: PipelineSettings,
    reporter: Reporter,
    is_cancelled: Callable[[], bool],
    cache: ResultCache | None,
) -> PipelineOutput:
    """Raises ``FetchError`` when the source cannot be fetched, ``ScanCancelled`` on cancel,
    ``TooManyFindings`` when the analyzers report more than ``settings.limits.max_findings``
    findings, one of them or all together."""
    analyzers = load_analyzers(settings.analyzers, plugin_paths=settings.plugin_paths)
    # The pid in the name lets housekeeping remove checkouts of killed processes.
    with workspace(settings.work_dir, f"scan-{os.getpid()}-") as scratch:
        if settings.upload is not None:
            reporter.step(f"Reading the uploaded {settings.upload_kind}", progress=1)
            checkout = _write_upload(settings.upload, scratch / "src", ref)
        else:
            reporter.step("Cloning repository", progress=1)
            try:
                checkout = fetch(
                    location,
                    ref,
                    scratch / "src",
                    limits=settings.fetch,
                    is_cancelled=is_cancelled,
                    auth=settings.auth,
                )
            except FetchCancelled as exc:
                raise ScanCancelled from exc
            reporter.checked_out(ref, checkout.commit_sha)
        config = _configuration(checkout.path, analyzers, settings, reporter)
        turned_off = {name: config.source for name in analyzers if not config.analyzer_on(name)}
        analyzers = {name: cls for name, cls in analyzers.items() if config.analyzer_on(name)}
        off = families_off(settings.options.get(RULE_PACK_ANALYZER, {}), config.rules)
        left_to_pack = superseded_bandit_checks(analyzers, off)
        config = dataclasses.replace(
            config, left_to_rule_pack=left_to_pack, rule_pack_families_off=off
        )
        if left_to_pack:
            for family in sorted(set(left_to_pack.values())):
                checks = sorted(c for c, f in left_to_pack.items() if f == family)
                reporter.log(
                    f"Bandit's {', '.join(checks)} are left to the rule pack's {family} rules."
                )
        discovery = discover_files(checkout.path, max_file_size=settings.max_file_size)
        discovery, excluded = _excluding(config, discovery)
        for message in discovery.messages:
            reporter.log(message, level="warning")
        left_out = sum(excluded.values())
        reporter.log(
            f"{_count(len(discovery.files), 'file')} to analyze"
            + (f" ({left_out} excluded by {config.source})." if left_out else ".")
        )
        reporter.progress(FETCHED_PERCENT)
        if is_cancelled():
            raise ScanCancelled
        outcomes = _analyze(
            analyzers,
            checkout.path,
            discovery.files,
            settings,
            reporter,
            is_cancelled,
            cache,
            config,
        )
        # The checkout goes with the workspace: the code shown with findings is read now.
        excerpts = finding_excerpts(
            checkout.path, set(discovery.files), [outcome.result.findings for outcome in outcomes]
        )
        for outcome, found in zip(outcomes, excerpts, strict=True):
            outcome.excerpts = found
    return PipelineOutput(
        checkout.commit_sha,
        len(discovery.files),
        discovery.messages,
        outcomes,
        discovery.gaps,
        config_source=config.source,
        excluded_files=dict(excluded),
        noise=config,
        turned_off=turned_off,
    )


def _write_upload(files: Mapping[str, bytes], destination: Path, ref: str) -> Checkout:
    """The "checkout" of an uploaded source: its files, by plain names, in an empty directory."""
    destination.mkdir(parents=True)
    for name, content in files.items():
        if "/" in name or name.startswith("."):
            raise ValueError(f"not a plain file name: {name!r}")
        (destination / name).write_bytes(content)
    return Checkout(path=destination, commit_sha="", ref=ref)


def _configuration(
    root: Path, analyzers: dict[str, type[Analyzer]], settings: PipelineSettings, reporter: Reporter
) -> NoiseConfig:
    """The configuration step: raises ``RepoConfigError`` (logged) for one that cannot be used."""
    reporter.step("Reading configuration", progress=2)
    try:
        config = read_noise_config(
            root, defaults=settings.project_config, analyzers=list(analyzers)
        )
    except RepoConfigError as exc:
        reporter.log(f"The configuration cannot be used: {exc}", level="error")
        raise
    for message in config.messages:
        reporter.log(message)
    for name in analyzers:
        if not config.analyzer_on(name):
            reporter.log(f"Analyzer {name} is turned off by {config.source}.")
    return config


def _excluding(config: NoiseConfig, discovery: Discovery) -> tuple[Discovery, Counter[str]]:
    """``discovery`` without the files the configuration excludes (nor their skip messages)."""
    files, excluded = select_files(config, discovery.files)
    if not config.rules.exclude:
        return discovery, excluded
    gaps = [gap for gap in discovery.gaps if not matches_any(config.rules.exclude, gap.path)]
    kept_paths = {gap.path for gap in gaps}
    gone = {gap.path for gap in discovery.gaps} - kept_paths
    messages = [
        message
        for message in discovery.messages
        if not any(message.startswith(f"{path}: ") for path in gone)
    ]
    return Discovery(files=files, messages=messages, gaps=gaps), excluded


def _analyze(
    analyzers: dict[str, type[Analyzer]],
    root: Path,
    files: list[str],
    settings: PipelineSettings,
    reporter: Reporter,
    is_cancelled: Callable[[], bool],
    cache: ResultCache | None,
    config: NoiseConfig,
) -> list[AnalyzerOutcome]:
    progress = _Progress(reporter, list(analyzers))
    running = dict.fromkeys(analyzers)  # ordered set of analyzers still at work
    running_lock = threading.RLock()
    found = 0
    limit = settings.limits.max_findings
    # Set when the findings went over the limit: the analyzers still at work stop as if
    # cancelled, since the scan cannot complete anyway.
    over_limit = threading.Event()

    def stopping() -> bool:
        return over_limit.is_set() or is_cancelled()

    def announce() -> None:
        steps = [analyzers[name].step for name in running]
        if steps:
            reporter.step(" · ".join(steps), running=list(running))

    def work(name: str, cls: type[Analyzer]) -> AnalyzerOutcome:
        try:
            return analyze(name, cls)
        finally:
            reporter.thread_done()

    def analyze(name: str, cls: type[Analyzer]) -> AnalyzerOutcome:
        nonlocal found
        started = datetime.now(UTC)
        clock = time.monotonic()
        options = dict(settings.options.get(name, {}))
        if name == RULE_PACK_ANALYZER:
            options, messages = rule_pack_options(options, config.rules, root)
            for message in messages:
                reporter.log(f"{name}: {message}", level="warning")
        try:
            result = run_analyzer(
                cls,
                root=root,
                files=analyzer_files(config, name, files),
                options=options,
                limits=settings.limits,
                cache=cache,
                plugin_paths=settings.plugin_paths,
                callbacks=Callbacks(
                    on_progress=lambda done, total: progress.update(name, done, total),
                    on_log=lambda message: reporter.log(f"{name}: {message}"),
                    is_cancelled=stopping,
                ),
            )
        except TooManyFindings:
            over_limit.set()
            raise
        failed = isinstance(result, AnalyzerFailure)
        removed: Counter[str] = Counter()
        if not failed:
            result, removed = apply_noise_config(config, name, result, key=options_key(options))
        outcome = AnalyzerOutcome(
            result=result,
            failed=failed,
            started=started,
            finished=datetime.now(UTC),
            fingerprints=assign_fingerprints(result.tool, result.findings),
            occurrences=occurrence_indexes(result.findings),
            removed=dict(removed),
        )
        progress.update(name, 1, 1)
        seconds = time.monotonic() - clock
        if failed:
            reporter.log(f"Analyzer {name} failed: {'; '.join(result.errors)}", level="error")
        else:
            for error in result.errors[:50]:
                reporter.log(f"{name}: {error}", level="warning")
            if len(result.errors) > 50:
                reporter.log(f"{name}: {len(result.errors) - 50} more problems", level="warning")
            untold = _untold(result)
            for gap in untold[:50]:
                label = gap_label(gap.kind)
                reporter.log(f"{name}: {gap.path} {label}: {gap.reason}", level="warning")
            if len(untold) > 50:
                reporter.log(f"{name}: {len(untold) - 50} more gaps", level="warning")
            for note in result.notes:
                reporter.log(f"{name}: {note}")
            gone = sum(n for label, n in removed.items() if not label.endswith("(dismissed)"))
            reporter.log(
                f"{name} finished: {_count(len(result.findings), 'finding')} in "
                f"{_count(result.files_analyzed, 'file')} ({seconds:.1f} s)"
                + (f", {gone} more removed by the configuration." if gone else ".")
            )
        # Under the lock: two analyzers finishing together must not report counts or steps
        # out of order.
        with running_lock:
            running.pop(name, None)
            found += len(result.findings)
            if found > limit:
                over_limit.set()
                raise TooManyFindings(limit)
            reporter.findings(found, analyzer=name)
            announce()
        return outcome

    announce()
    with ThreadPoolExecutor(max_workers=max(1, len(analyzers))) as pool:
        futures = [pool.submit(work, name, cls) for name, cls in analyzers.items()]
        outcomes: list[AnalyzerOutcome] = []
        cancelled = False
        too_many: TooManyFindings | None = None
        for future in futures:
            try:
                outcomes.append(future.result())
            except AnalyzerCancelled:
                cancelled = True
            except TooManyFindings as exc:
                too_many = too_many or exc
    if is_cancelled():
        raise ScanCancelled
    if too_many is not None:
        reporter.log(f"{too_many}: the scan stops here.", level="error")
        raise too_many
    if cancelled:
        raise ScanCancelled
    return outcomes
