"""Running a scan: the task every executor calls, and the saving of its results.

Whatever happens, the scan ends in exactly one terminal state with an event saying why, and
users never see internal details: unexpected errors are logged with a reference they can
quote to an operator.
"""

from __future__ import annotations

import gzip
import io
import itertools
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from celery import shared_task
from django.conf import settings
from django.db import transaction

from scanpulse.analyzers.base import SEVERITIES
from scanpulse.analyzers.redaction import KEY_OPTION
from scanpulse.analyzers.runs import Limits, TooManyFindings
from scanpulse.core.errors import DATABASE_UNAVAILABLE
from scanpulse.core.keys import secret_id_key
from scanpulse.core.retry import with_database_retry
from scanpulse.core.text import storable
from scanpulse.events.metrics import SCAN_DURATION
from scanpulse.pipeline.classification import Classification, classify
from scanpulse.pipeline.coverage import KEPT_GAPS, Coverage, gap_counts
from scanpulse.pipeline.run import (
    AnalyzerOutcome,
    PipelineOutput,
    PipelineSettings,
    ScanCancelled,
    run_pipeline,
)
from scanpulse.pipeline.sarif import (
    ReportedFinding,
    StreamedSarifRun,
    automation_id_for,
    iter_sarif_chunks,
)
from scanpulse.pipeline.source import FetchError, FetchLimits

from .cache import DatabaseResultCache
from .executors import RUN_SCAN_TASK
from .liveness import ScanWatch
from .models import AnalyzerRun, Finding, FindingStatus, Scan, ScanReport, ScanStatus
from .reporter import ScanReporter
from .selectors import previous_completed_scan
from .services import scan_claim_next, scan_finish, scan_start

logger = logging.getLogger(__name__)

_SAVE_BATCH = 1000  # findings per insert; a cancel request is honoured between batches
# The analyzers that report secrets and get the key to identify them with (in their options,
# which reach the analyzer process on its stdin).
SECRET_ID_ANALYZERS = ("bandit", "secrets")


def pipeline_settings(*, organization: Any) -> PipelineSettings:
    """The settings of a scan of one of ``organization``'s projects: where its local
    repositories may lie, and which hosts may be contacted, are checked again at fetch time."""
    from scanpulse.advisories.store import ensure_snapshot
    from scanpulse.projects.validation import local_policy, network_policy

    work_dir = Path(settings.SCANPULSE_WORK_DIR)
    snapshot = ensure_snapshot(work_dir / "advisories")
    workers = settings.SCANPULSE_ANALYZER_WORKERS or os.cpu_count() or 1
    return PipelineSettings(
        work_dir=work_dir,
        fetch=FetchLimits(
            timeout_seconds=settings.SCANPULSE_CLONE_TIMEOUT,
            max_bytes=settings.SCANPULSE_CLONE_MAX_BYTES,
            max_files=settings.SCANPULSE_CLONE_MAX_FILES,
            allow_local=settings.SCANPULSE_ALLOW_LOCAL_REPOS,
            protocols=tuple(settings.SCANPULSE_REPO_SCHEMES),
            network=network_policy(),
            local=local_policy(organization=organization),
        ),
        analyzers=settings.SCANPULSE_ANALYZERS,
        limits=Limits(
            timeout_s=settings.SCANPULSE_ANALYZER_TIMEOUT,
            cpu_s=settings.SCANPULSE_ANALYZER_CPU_SECONDS,
            memory_mb=settings.SCANPULSE_ANALYZER_MEMORY_MB,
            max_workers=workers,
            max_findings=settings.SCANPULSE_MAX_FINDINGS,
        ),
        max_file_size=settings.SCANPULSE_MAX_FILE_BYTES,
        options=_analyzer_options(snapshot),
        plugin_paths=tuple(settings.SCANPULSE_ANALYZER_PATHS),
    )


def _analyzer_options(snapshot: Path | None) -> dict[str, dict[str, Any]]:
    options = {name: dict(values) for name, values in settings.SCANPULSE_ANALYZER_OPTIONS.items()}
    if snapshot is not None:
        options.setdefault("dependencies", {})["advisory_snapshot"] = str(snapshot)
    key = secret_id_key().hex()
    for name in SECRET_ID_ANALYZERS:
        options.setdefault(name, {})[KEY_OPTION] = key
    return options


def run_scan(scan_id: UUID | str | None = None) -> None:
    """Run the scan ``scan_id``; without it, the waiting scan that is fairest to run now
    (what a free worker slot does)."""
    limit = settings.SCANPULSE_SCAN_ATTEMPTS
    if scan_id is None:
        scan = with_database_retry(scan_claim_next, attempt_limit=limit)
    else:
        scan = with_database_retry(scan_start, scan_id=scan_id, attempt_limit=limit)
    if scan is None:
        return
    attempt = scan.attempt
    reporter = ScanReporter(scan.id)
    with ScanWatch(scan.id, attempt=attempt) as watch:
        try:
            _run_attempt(scan, attempt, reporter, watch)
        except DATABASE_UNAVAILABLE as exc:
            # Nothing can be recorded, not even a failure. This attempt ends here; its
            # heartbeat lapses, and housekeeping starts the scan again once the database is
            # back (or fails it, with a message, after its last attempt).
            logger.warning(
                "scan %s attempt %d abandoned, the database stayed unavailable: %s",
                scan.id,
                attempt,
                exc,
            )


def _run_attempt(scan: Scan, attempt: int, reporter: ScanReporter, watch: ScanWatch) -> None:
    try:
        output = run_pipeline(
            location=scan.project.repo_url,
            ref=scan.ref,
            settings=pipeline_settings(organization=scan.project.organization),
            reporter=reporter,
            is_cancelled=watch.is_cancelled,
            cache=DatabaseResultCache(),
        )
    except FetchError as exc:
        _fail(scan, attempt, str(exc))
        return
    except ScanCancelled:
        _stopped(scan, attempt, watch)
        return
    except TooManyFindings as exc:
        _fail(
            scan,
            attempt,
            f"The scan was stopped: {exc}, the limit set by SCANPULSE_MAX_FINDINGS.",
        )
        return
    except DATABASE_UNAVAILABLE:
        raise
    except Exception:
        reference = uuid.uuid4().hex[:12]
        logger.exception("scan %s failed unexpectedly (reference %s)", scan.id, reference)
        _fail(
            scan,
            attempt,
            f"The scan failed because of an internal error (reference {reference}).",
        )
        return
    if not output.any_succeeded:
        problems = "; ".join(
            f"{outcome.tool}: {' '.join(outcome.result.errors)}" for outcome in output.outcomes
        )
        _fail(scan, attempt, f"No analyzer could run. {problems}".strip())
        return
    try:
        if watch.is_cancelled():
            raise ScanCancelled
        with_database_retry(save_results, scan, attempt, output, reporter, watch.is_cancelled)
    except ScanCancelled:
        _stopped(scan, attempt, watch)


def _stopped(scan: Scan, attempt: int, watch: ScanWatch) -> None:
    """The scan stopped before its end: record why (unless it is no longer ours)."""
    if watch.superseded:
        return  # finished, or running as a newer attempt: that one records the outcome
    if watch.timed_out:
        _fail(scan, attempt, f"The scan took longer than its {watch.time_limit:g} s limit.")
    else:
        _cancelled(scan, attempt)


@shared_task(name=RUN_SCAN_TASK, ignore_result=True)
def run_scan_task(scan_id: str | None = None) -> None:
    """The Celery face of ``run_scan``; acknowledged late, redelivered if the worker dies.

    A message asks for a slot: it runs the fairest waiting scan, which need not be
    ``scan_id`` (the scan whose wait sent it).
    """
    run_scan()


def _fail(scan: Scan, attempt: int, message: str) -> None:
    finished = with_database_retry(
        scan_finish, scan_id=scan.id, status=ScanStatus.FAILED, message=message, attempt=attempt
    )
    if finished:
        _observe_duration(scan.id)


def _cancelled(scan: Scan, attempt: int) -> None:
    with_database_retry(scan.refresh_from_db)
    who = scan.cancelled_by.email if scan.cancelled_by else "a user"
    with_database_retry(
        scan_finish,
        scan_id=scan.id,
        status=ScanStatus.CANCELLED,
        message=f"Scan cancelled by {who}.",
        attempt=attempt,
    )


def _observe_duration(scan_id: UUID) -> None:
    scan = Scan.objects.filter(pk=scan_id).only("started_at", "finished_at").first()
    if scan is not None and scan.started_at and scan.finished_at:
        SCAN_DURATION.observe((scan.finished_at - scan.started_at).total_seconds())


def _never_cancelled() -> bool:
    return False


def save_results(
    scan: Scan,
    attempt: int,
    output: PipelineOutput,
    reporter: ScanReporter,
    is_cancelled: Callable[[], bool] = _never_cancelled,
) -> None:
    """Save findings, analyzer runs, the report and the terminal event in one transaction.

    Raises ``ScanCancelled`` when the scan is cancelled before that transaction commits: a
    cancel request wins over results not yet saved, and nothing of them is kept. It is
    looked at every ``_SAVE_BATCH`` findings of every stage, so it is honoured within a
    fraction of a second however many findings there are.
    """
    reporter.step("Generating SARIF report", progress=88)
    report = _sarif_report(scan, output, is_cancelled)
    if is_cancelled():
        raise ScanCancelled

    reporter.step("Saving results", progress=94)
    previous = previous_completed_scan(scan=scan)
    previous_findings: dict[str, Finding] = {}
    if previous is not None:
        unfixed = previous.findings.exclude(status=FindingStatus.FIXED)
        for index, finding in enumerate(unfixed.iterator(chunk_size=_SAVE_BATCH)):
            if index % _SAVE_BATCH == 0 and is_cancelled():
                raise ScanCancelled
            previous_findings[finding.fingerprint] = finding
    current = [fp for outcome in output.outcomes for fp in outcome.fingerprints]
    classification = classify(previous_findings, current)
    open_findings = len(current)
    summary = _summary(output, classification.statuses, len(classification.fixed))
    summary["message"] = _completion_message(summary)
    summary = storable(summary)
    rows = _finding_rows(scan, output, classification, previous_findings)

    with transaction.atomic():
        # A redelivered attempt starts clean: nothing of an earlier attempt survives.
        Finding.objects.filter(scan=scan).delete()
        AnalyzerRun.objects.filter(scan=scan).delete()
        ScanReport.objects.filter(scan=scan).delete()
        # Rows are built a batch at a time, between two looks at the cancel flag: building
        # them all first would hold every one in memory and ignore a cancel meanwhile.
        while True:
            if is_cancelled():
                raise ScanCancelled  # rolls the whole save back
            batch = list(itertools.islice(rows, _SAVE_BATCH))
            if not batch:
                break
            Finding.objects.bulk_create(batch)
        AnalyzerRun.objects.bulk_create(
            AnalyzerRun(
                scan=scan,
                tool=outcome.tool,
                tool_version=outcome.result.tool_version[:100],
                outcome=AnalyzerRun.Outcome.FAILED
                if outcome.failed
                else AnalyzerRun.Outcome.SUCCEEDED,
                rules=storable([rule.to_dict() for rule in outcome.result.rules]),
                errors=storable(outcome.result.errors[:1000]),
                notes=storable(outcome.result.notes),
                files_analyzed=outcome.result.files_analyzed,
                started_at=outcome.started,
                finished_at=outcome.finished,
            )
            for outcome in output.outcomes
        )
        ScanReport.objects.create(scan=scan, sarif_gzip=report[0], size=report[1])
        Scan.objects.filter(pk=scan.pk).update(commit_sha=output.commit_sha)
        finished = scan_finish(
            scan_id=scan.id,
            status=ScanStatus.COMPLETED,
            message=summary["message"],
            summary=summary,
            findings_count=open_findings,
            attempt=attempt,
            unless_cancelled=True,
        )
        if not finished:  # cancelled, reaped or superseded meanwhile: keep nothing
            transaction.set_rollback(True)
    if not finished:
        if Scan.objects.filter(
            pk=scan.pk,
            status=ScanStatus.RUNNING,
            attempt=attempt,
            cancel_requested_at__isnull=False,
        ).exists():
            raise ScanCancelled
        return
    _observe_duration(scan.id)


def _finding_rows(
    scan: Scan,
    output: PipelineOutput,
    classification: Classification,
    previous_findings: dict[str, Finding],
) -> Iterator[Finding]:
    """The scan's findings as rows, in order: this scan's, then those fixed since the last."""
    position = 0
    statuses = iter(classification.statuses)
    for outcome in output.outcomes:
        for finding, fingerprint, occurrence in zip(
            outcome.result.findings, outcome.fingerprints, outcome.occurrences, strict=True
        ):
            yield Finding(
                scan=scan,
                tool=outcome.tool,
                rule_id=storable(finding.rule_id[:200]),
                severity=finding.severity,
                confidence=finding.confidence,
                path=storable(finding.path[:1024]),
                start_line=finding.start_line,
                end_line=finding.end_line,
                message=storable(finding.message),
                fingerprint=fingerprint,
                status=next(statuses),
                properties=storable({**finding.properties, "occurrence": occurrence}),
                position=position,
            )
            position += 1
    for fingerprint in classification.fixed:
        gone = previous_findings[fingerprint]
        yield Finding(
            scan=scan,
            tool=gone.tool,
            rule_id=gone.rule_id,
            severity=gone.severity,
            confidence=gone.confidence,
            path=gone.path,
            start_line=gone.start_line,
            end_line=gone.end_line,
            message=gone.message,
            fingerprint=gone.fingerprint,
            status=FindingStatus.FIXED,
            properties=gone.properties,
            position=position,
        )
        position += 1


def _sarif_report(
    scan: Scan, output: PipelineOutput, is_cancelled: Callable[[], bool]
) -> tuple[bytes, int]:
    def findings(outcome: AnalyzerOutcome) -> Iterator[ReportedFinding]:
        # The report is built lazily from these, so the cancel flag is seen while it is.
        for index, reported in enumerate(
            zip(outcome.result.findings, outcome.fingerprints, outcome.occurrences, strict=True)
        ):
            if index % _SAVE_BATCH == 0 and is_cancelled():
                raise ScanCancelled
            yield ReportedFinding(*reported)

    runs = [
        StreamedSarifRun(
            tool=outcome.result.tool,
            tool_version=outcome.result.tool_version,
            rules=outcome.result.rules,
            findings=findings(outcome),
            started=outcome.started,
            finished=outcome.finished,
            succeeded=not outcome.failed,
            errors=outcome.result.errors,
            notes=outcome.result.notes,
        )
        for outcome in output.outcomes
    ]
    buffer = io.BytesIO()
    size = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as compressed:
        for chunk in iter_sarif_chunks(
            runs,
            automation_id=automation_id_for(scan.project.name, str(scan.id)),
            repository_uri=scan.project.repo_url,
            commit_sha=output.commit_sha,
            ref=scan.ref,
        ):
            if is_cancelled():
                raise ScanCancelled
            data = chunk.encode("utf-8")
            size += len(data)
            compressed.write(data)
    return buffer.getvalue(), size


def _summary(output: PipelineOutput, statuses: tuple[str, ...], fixed: int) -> dict[str, Any]:
    counts = Counter(statuses)
    severities = Counter(
        finding.severity for outcome in output.outcomes for finding in outcome.result.findings
    )
    gaps = output.gaps()
    return {
        # Whether the scan looked at everything; ``gaps`` says what it did not, and why.
        "complete": not gaps,
        "gaps": gaps[:KEPT_GAPS],
        "gap_total": len(gaps),
        "gap_counts": gap_counts(gaps),
        "commit_sha": output.commit_sha,
        "files": output.files,
        "skipped": output.skipped[:100],
        "new": counts.get("new", 0),
        "unchanged": counts.get("unchanged", 0),
        "fixed": fixed,
        "severity": {key: severities.get(key, 0) for key in SEVERITIES},
        "analyzers": {
            outcome.tool: {
                "outcome": "failed" if outcome.failed else "succeeded",
                "findings": len(outcome.result.findings),
                "files": outcome.result.files_analyzed,
                "errors": outcome.result.errors[:20],
                "error_count": len(outcome.result.errors),
                "notes": outcome.result.notes,
                "seconds": round((outcome.finished - outcome.started).total_seconds(), 3),
            }
            for outcome in output.outcomes
        },
    }


def _completion_message(summary: dict[str, Any]) -> str:
    failed = [name for name, info in summary["analyzers"].items() if info["outcome"] == "failed"]
    text = f"{summary['new']} new, {summary['unchanged']} unchanged, {summary['fixed']} fixed findings."
    if failed:
        text += f" Analyzer{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed."
    coverage = Coverage.from_summary(summary)
    others = {kind: n for kind, n in coverage.counts.items() if kind != "analyzer_failed"}
    if others:
        text += f" Incomplete: {Coverage(False, counts=others).describe()}."
    return text
