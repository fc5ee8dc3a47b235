"""Saving what a scan found: its findings (new, unchanged, fixed), its analyzer runs, its SARIF
report and its summary, and the terminal event that says so.

Everything that touches the database is a step safe to repeat on its own, retried on its own
while the database is unreachable (``with_database_retry``): the step events (the reporter
retries each), the reads of the project's dismissals and of the previous scan's findings, and
the one transaction that writes the results and brings the project's alerts for the ref up to
date (``scanpulse.alerts.sync``). The SARIF report and the summary are built once, outside of
them all.

Findings whose fingerprint the project has dismissed (read once, before the report is built)
are saved with the dismissal's reason, reported as suppressed in SARIF, and left out of the
open totals, of the findings count and of the gate. So are those the repository dismisses
itself (secrets audited as false positives in its detect-secrets baseline, marked by
``scanpulse.pipeline.noise``): the save records those dismissals for the project, by the system,
so that their alerts show dismissed with that reason.
The same transaction evaluates the
project's quality gate on what it saved (``scans.gate``) and stores the verdict with the scan.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from uuid import UUID

from django.db import DatabaseError, transaction
from django.utils import timezone

from scanpulse.alerts.models import Alert
from scanpulse.alerts.selectors import (
    CarryOver,
    Suppression,
    carried_over,
    dismissed_fingerprints,
    triaged_fingerprints,
)
from scanpulse.alerts.services import dismissals_from_repository
from scanpulse.alerts.sync import Detected, alerts_sync, lock_alerts
from scanpulse.core.bulk import bulk_insert, refresh_statistics
from scanpulse.core.retry import with_database_retry
from scanpulse.pipeline.absence import AbsenceRules, absence_rules
from scanpulse.pipeline.classification import Classification, classify
from scanpulse.pipeline.coverage import Coverage
from scanpulse.pipeline.fingerprints import pre_grouping_fingerprints
from scanpulse.pipeline.noise import DISMISSED_BY, DISMISSED_REASON
from scanpulse.pipeline.run import PipelineOutput, ScanCancelled

from .gate import gate_evaluate, project_gate
from .metrics import observe_duration
from .models import (
    AnalyzerRun,
    Finding,
    FindingStatus,
    InventoryItem,
    Scan,
    ScanReport,
    ScanStatus,
)
from .reporter import ScanReporter
from .result_rows import SAVE_BATCH, analyzer_runs, detected_of, finding_rows, inventory_rows
from .sarif_report import sarif_report
from .selectors import comparison_scan
from .services import scan_finish
from .summary import ScanSummary, summarize

logger = logging.getLogger(__name__)

# A save of this many findings or more has the planner read the findings' and alerts' tables
# again (``core.bulk.refresh_statistics``): its pages are planned for their real size at once.
LARGE_SAVE = 10_000


def save_results(
    *,
    scan: Scan,
    attempt: int,
    output: PipelineOutput,
    reporter: ScanReporter,
    is_cancelled: Callable[[], bool],
) -> None:
    """Save findings, analyzer runs, the report and the terminal event of ``attempt``.

    Raises ``ScanCancelled`` when the scan is cancelled before the results are committed: a
    cancel request wins over results not yet saved, and nothing of them is kept. Returns
    without saving anything when the attempt no longer owns the scan (it ended, or a newer
    attempt runs it).
    """
    by_project = with_database_retry(dismissed_fingerprints, project_id=scan.project_id)
    declared = repository_dismissals(output)
    # A team's own decision stands: what it dismissed, and what it reopened, once or ever.
    triaged = (
        with_database_retry(triaged_fingerprints, project_id=scan.project_id, fingerprints=declared)
        if declared
        else set()
    )
    by_repository = {
        fingerprint: suppression
        for fingerprint, suppression in declared.items()
        if fingerprint not in by_project and fingerprint not in triaged
    }
    groups = grouped_dependencies(output)
    carried = (
        with_database_retry(carried_over, project_id=scan.project_id, groups=groups)
        if groups
        else {}
    )
    by_carry_over = {
        fingerprint: carry.suppression
        for fingerprint, carry in carried.items()
        if carry.suppression is not None
    }
    dismissed = {**by_carry_over, **by_repository, **by_project}
    # What the previous scan of the ref found that this one does not, and why (read before the
    # report, which says what the configuration excluded).
    # The scan compared with: the ref's previous one, or another branch's (a pull request's
    # target, ``--base``, the default branch for a ref's first scan).
    compared = with_database_retry(comparison_scan, scan=scan)
    previous = with_database_retry(
        previous_findings, scan=scan, compared=compared, is_cancelled=is_cancelled
    )
    current = [fp for outcome in output.outcomes for fp in outcome.fingerprints]
    rules = absence_rules(output)
    classification, absent, why = _not_fixed(classify(previous, current), previous, rules, groups)
    reporter.step("Generating SARIF report", progress=88)
    report = sarif_report(
        scan=scan,
        output=output,
        is_cancelled=is_cancelled,
        dismissed=dismissed,
        notes=_absence_notes(absent, why),
    )
    if is_cancelled():
        raise ScanCancelled

    reporter.step("Saving results", progress=94)
    summary = summarize(
        output,
        classification.statuses,
        fixed=len(classification.fixed),
        dismissed=dismissed,
        excluded=absent["excluded"],
        not_checked=absent["unchecked"],
        superseded=absent["superseded"],
    )
    summary = with_comparison(summary, scan=scan, compared=compared)
    finished = with_database_retry(
        _store_results,
        scan=scan,
        attempt=attempt,
        output=output,
        classification=classification,
        previous=previous,
        compared=compared,
        summary=summary,
        report=report,
        dismissed=dismissed,
        by_repository=by_repository,
        is_cancelled=is_cancelled,
        rules=rules,
        carried=carried,
        groups=groups,
    )
    if finished:
        with_database_retry(observe_duration, scan_id=scan.id)
        if len(classification.statuses) + len(classification.fixed) >= LARGE_SAVE:
            _refresh_statistics(scan)
    elif with_database_retry(_cancel_requested, scan_id=scan.id, attempt=attempt):
        raise ScanCancelled


def _refresh_statistics(scan: Scan) -> None:
    """After the commit, so the analyse neither waits for it nor holds a lock meanwhile. The
    scan is saved already: a failure here is logged, and autovacuum gets there in time."""
    try:
        refresh_statistics(Finding, Alert)
    except DatabaseError:
        logger.warning(
            "scan %s: the planner statistics were not refreshed after a large save",
            scan.id,
            exc_info=True,
        )


def grouped_dependencies(output: PipelineOutput) -> dict[str, dict[str, tuple[str, ...]]]:
    """The scan's grouped dependency findings (one per vulnerable package version), by
    fingerprint, each with the fingerprints its advisories had before grouping."""
    groups: dict[str, dict[str, tuple[str, ...]]] = {}
    for outcome in output.outcomes:
        for finding, fingerprint in zip(outcome.result.findings, outcome.fingerprints, strict=True):
            olds = pre_grouping_fingerprints(
                outcome.tool, finding.rule_id, finding.path, finding.properties
            )
            if olds:
                groups[fingerprint] = olds
    return groups


def _not_fixed(
    classification: Classification,
    previous: dict[str, Finding],
    rules: AbsenceRules,
    groups: dict[str, dict[str, tuple[str, ...]]],
) -> tuple[Classification, dict[str, int], Counter[str]]:
    """``classification`` with only the previous findings that are fixed in its ``fixed``, by
    the rule the alerts follow (``pipeline.absence``): those the configuration now excludes,
    those the scan could not look for, and advisories now part of a grouped dependency finding
    are counted apart, not fixed."""
    taken_over = {old for olds in groups.values() for pair in olds.values() for old in pair}
    counts = {"excluded": 0, "unchecked": 0, "superseded": 0}
    why: Counter[str] = Counter()  # the excluded, by reason
    fixed = []
    for fingerprint in classification.fixed:
        if fingerprint in taken_over:
            counts["superseded"] += 1
            continue
        gone = previous[fingerprint]
        absence = rules.why(gone.tool, gone.rule_id, gone.path)
        if absence.kind == "fixed":
            fixed.append(fingerprint)
        else:
            counts[absence.kind] += 1
            if absence.kind == "excluded":
                why[absence.reason] += 1
    return Classification(classification.statuses, tuple(fixed)), counts, why


def _absence_notes(counts: dict[str, int], why: Counter[str]) -> list[str]:
    """What the SARIF report says of the previous scan's findings it does not report and are
    not fixed (a notification of its first run)."""
    notes = []
    if counts["excluded"]:
        reasons = "; ".join(f"{reason}: {n}" for reason, n in sorted(why.items()))
        notes.append(
            f"{counts['excluded']} findings of the previous scan are no longer checked, "
            f"excluded by the configuration (not fixed): {reasons}"
        )
    if counts["unchecked"]:
        notes.append(
            f"{counts['unchecked']} findings of the previous scan were not checked by this scan "
            "(an analyzer failed or a file was not fully analyzed): not fixed"
        )
    if counts["superseded"]:
        notes.append(
            f"{counts['superseded']} findings of the previous scan (one per advisory) are now "
            "grouped into one finding per vulnerable package version: not fixed"
        )
    return notes


def repository_dismissals(output: PipelineOutput) -> dict[str, Suppression]:
    """The fingerprints the repository dismisses itself, with why: findings the pipeline marked
    from the repository's own configuration (``dismissed_reason``, ``dismissed_by``)."""
    dismissals: dict[str, Suppression] = {}
    for outcome in output.outcomes:
        for finding, fingerprint in zip(outcome.result.findings, outcome.fingerprints, strict=True):
            reason = finding.properties.get(DISMISSED_REASON)
            if reason:
                source = finding.properties.get(DISMISSED_BY) or "the repository"
                comment = f"audited as a false positive in {source} at {output.commit_sha[:12]}"
                dismissals[fingerprint] = Suppression(reason=str(reason), comment=comment)
    return dismissals


def with_comparison(summary: ScanSummary, *, scan: Scan, compared: Scan | None) -> ScanSummary:
    """The summary saying what the findings were compared with: a scan of another branch (a
    pull request's target, ``--base``, or the default branch for a ref's first scan) makes
    its new findings those "new in this pull request" (or new against that branch)."""
    if compared is None or compared.ref == scan.ref:
        return summary
    in_pull_request = bool(scan.pull_request or scan.base_ref)
    if in_pull_request:
        lead = f"{summary.new} new in this pull request (compared with {compared.ref})"
    else:
        lead = f"{summary.new} new compared with {compared.ref}"
    return replace(
        summary,
        message=f"{lead}. {summary.message}",
        base_ref=compared.ref,
        pull_request=in_pull_request,
    )


def previous_findings(
    *, scan: Scan, compared: Scan | None, is_cancelled: Callable[[], bool]
) -> dict[str, Finding]:
    """The findings of ``compared`` (``selectors.comparison_scan``), by fingerprint, without
    those already fixed there (a read: safe to repeat)."""
    previous = compared
    findings: dict[str, Finding] = {}
    if previous is None:
        return findings
    unfixed = previous.findings.exclude(status=FindingStatus.FIXED)
    for index, finding in enumerate(unfixed.iterator(chunk_size=SAVE_BATCH)):
        if index % SAVE_BATCH == 0 and is_cancelled():
            raise ScanCancelled
        findings[finding.fingerprint] = finding
    return findings


def _store_results(
    *,
    scan: Scan,
    attempt: int,
    output: PipelineOutput,
    classification: Classification,
    previous: dict[str, Finding],
    compared: Scan | None,
    summary: ScanSummary,
    report: tuple[bytes, int],
    dismissed: dict[str, Suppression],
    by_repository: dict[str, Suppression],
    is_cancelled: Callable[[], bool],
    rules: AbsenceRules,
    carried: dict[str, CarryOver],
    groups: dict[str, dict[str, tuple[str, ...]]],
) -> bool:
    """The one transaction of the save; False (and nothing kept) if the scan was cancelled,
    reaped or superseded meanwhile. Safe to repeat: it starts by removing what an earlier
    attempt (or try) left."""
    stored_summary = summary.to_json()
    with transaction.atomic():
        # A redelivered attempt starts clean: nothing of an earlier attempt survives.
        Finding.objects.filter(scan=scan).delete()
        AnalyzerRun.objects.filter(scan=scan).delete()
        ScanReport.objects.filter(scan=scan).delete()
        InventoryItem.objects.filter(scan=scan).delete()
        # Rows are built a batch at a time, between two looks at the cancel flag: building
        # them all first would hold every one in memory and ignore a cancel meanwhile.
        # Plain rows (no model instance each), inserted in bounded batches
        # (``core.bulk``: COPY on PostgreSQL).
        rows = finding_rows(scan, output, classification, previous, dismissed)
        detected: list[Detected] = []
        while True:
            if is_cancelled():
                raise ScanCancelled  # rolls the whole save back
            batch = list(itertools.islice(rows, SAVE_BATCH))
            if not batch:
                break
            bulk_insert(Finding, batch)
            detected += (
                detected_of(row, groups) for row in batch if row["status"] != FindingStatus.FIXED
            )
        AnalyzerRun.objects.bulk_create(analyzer_runs(scan, output))
        InventoryItem.objects.bulk_create(inventory_rows(scan, output), batch_size=SAVE_BATCH)
        ScanReport.objects.create(scan=scan, sarif_gzip=report[0], size=report[1])
        Scan.objects.filter(pk=scan.pk).update(
            commit_sha=output.commit_sha,
            compared_with=None if compared is None else compared.pk,
            compared_with_ref="" if compared is None else compared.ref,
        )
        new: frozenset[str] | None = None
        lock_alerts(project_id=scan.project_id)  # before the check, so that it holds
        if not _newer_scan_completed(scan):  # alerts follow the newest scan of the ref
            new = alerts_sync(
                project_id=scan.project_id,
                ref=scan.ref,
                scan_id=scan.id,
                commit_sha=output.commit_sha,
                seen_at=timezone.now(),
                detected=detected,
                absence=rules,
                carry_over=carried,
            ).new
        if scan.ref == scan.project.default_branch:
            # The default branch's baseline speaks for the project; another branch's only for
            # its own scan (its findings above), never for the project's alerts.
            dismissals_from_repository(project_id=scan.project_id, suppressions=by_repository)
        if compared is not None and compared.ref != scan.ref:
            # Compared with another branch (a pull request's target, or the parent of a
            # ref's first scan): what is new is what that branch does not have, not what is
            # new to this ref's alerts.
            new = None
        # The project's quality gate, on the findings just saved and the alerts just synced.
        gate = gate_evaluate(
            scan=scan,
            policy=project_gate(scan.project_id),
            coverage=Coverage.from_summary(stored_summary),
            new=new,
        )
        finished = scan_finish(
            scan_id=scan.id,
            status=ScanStatus.COMPLETED,
            message=stored_summary["message"],
            summary=stored_summary,
            findings_count=len(classification.statuses) - summary.dismissed,
            attempt=attempt,
            unless_cancelled=True,
            gate=gate,
        )
        if not finished:  # cancelled, reaped or superseded meanwhile: keep nothing
            transaction.set_rollback(True)
    return finished


def _newer_scan_completed(scan: Scan) -> bool:
    """Whether a scan of the same project and ref created after this one has completed."""
    return Scan.objects.filter(
        project_id=scan.project_id,
        ref=scan.ref,
        status=ScanStatus.COMPLETED,
        created_at__gt=scan.created_at,
    ).exists()


def _cancel_requested(*, scan_id: UUID, attempt: int) -> bool:
    """Whether ``attempt`` still runs the scan and someone asked to cancel it."""
    return Scan.objects.filter(
        pk=scan_id,
        status=ScanStatus.RUNNING,
        attempt=attempt,
        cancel_requested_at__isnull=False,
    ).exists()
