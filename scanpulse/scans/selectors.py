"""Reads of scans and findings, scoped to the caller's organizations."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q, QuerySet

from scanpulse.alerts.models import LINE_RANK, SEVERITY_RANK
from scanpulse.alerts.selectors import path_glob
from scanpulse.core.exceptions import NotFound
from scanpulse.pipeline.coverage import GatePolicy
from scanpulse.tenancy.types import User

from .models import AdvisoryMatch, Finding, FindingStatus, Scan, Severity

# Most severe first: the order of ``Severity`` (critical … info); anything else after them.


def scan_list(
    *,
    user: User,
    project_id: UUID | None = None,
    organization_id: UUID | None = None,
    status: str | None = None,
) -> QuerySet[Scan]:
    scans = Scan.objects.filter(organization__memberships__user=user).select_related(
        "project", "requested_by", "cancelled_by"
    )
    if project_id is not None:
        scans = scans.filter(project_id=project_id)
    if organization_id is not None:
        scans = scans.filter(organization_id=organization_id)
    if status is not None:
        scans = scans.filter(status=status)
    return scans.order_by("-created_at")


def scan_get(*, user: User, scan_id: UUID | str) -> Scan:
    """The scan, or 404 — also when it belongs to another organization."""
    scan = scan_list(user=user).filter(pk=scan_id).first()
    if scan is None:
        raise NotFound("Scan not found.")
    return scan


def finding_list(
    *,
    scan: Scan,
    severity: str | None = None,
    tool: str | None = None,
    status: str | None = None,
    min_severity: str | None = None,
    rule: str | None = None,
    path: str | None = None,
    q: str | None = None,
    state: str | None = None,
) -> QuerySet[Finding]:
    """The scan's findings, most severe first, then by path and line (a finding of a whole
    file before those of its lines); the position the analyzers reported them in breaks the
    remaining ties, so pages of the list never overlap or skip.

    ``severity`` is exact, ``min_severity`` a minimum; ``path`` a glob as for alerts
    (``alerts.selectors.path_glob``); ``q`` text in the message, the path or the rule;
    ``state`` as the scan ended: ``open`` (found, not dismissed), ``dismissed``, ``fixed``."""
    findings = scan.findings.all()
    if severity is not None:
        findings = findings.filter(severity=severity)
    if min_severity is not None:
        values = list(Severity.values)
        findings = findings.filter(severity__in=values[: values.index(min_severity) + 1])
    if rule is not None:
        findings = findings.filter(rule_id=rule)
    if path is not None:
        findings = findings.filter(path_glob("path", path))
    if q:
        findings = findings.filter(
            Q(message__icontains=q) | Q(path__icontains=q) | Q(rule_id__icontains=q)
        )
    if state == "dismissed":
        findings = findings.filter(dismissed_reason__isnull=False)
    elif state == "open":
        findings = findings.filter(dismissed_reason__isnull=True).exclude(
            status=FindingStatus.FIXED
        )
    elif state == "fixed":
        findings = findings.filter(status=FindingStatus.FIXED, dismissed_reason__isnull=True)
    if tool is not None:
        findings = findings.filter(tool=tool)
    if status is not None:
        findings = findings.filter(status=status)
    return findings.order_by(SEVERITY_RANK, "path", LINE_RANK, "position", "id")


def gate_matching_count(*, scan: Scan, policy: GatePolicy) -> int:
    """How many findings of the scan count against the gate (``GatePolicy.counts``): never
    the fixed ones, nor those dismissed when the scan ended."""
    severities = policy.severities()
    if not severities:
        return 0
    findings = scan.findings.filter(severity__in=severities, dismissed_reason__isnull=True)
    findings = findings.exclude(status=FindingStatus.FIXED)
    if policy.new_only:
        findings = findings.filter(status=FindingStatus.NEW)
    return findings.count()


def previous_completed_scan(*, scan: Scan) -> Scan | None:
    """The last completed scan of the same project and ref before ``scan``."""
    return (
        Scan.objects.filter(
            project_id=scan.project_id,
            ref=scan.ref,
            status="completed",
            created_at__lt=scan.created_at,
        )
        .exclude(pk=scan.pk)
        .order_by("-created_at")
        .first()
    )


def _latest_completed(*, scan: Scan, ref: str) -> Scan | None:
    return (
        Scan.objects.filter(project_id=scan.project_id, ref=ref, status="completed")
        .exclude(pk=scan.pk)
        .order_by("-created_at")
        .first()
    )


def comparison_scan(*, scan: Scan) -> Scan | None:
    """The completed scan ``scan``'s findings are classified against (new, unchanged, fixed).

    - A scan with a base (a pull request's target branch, or ``--base``): the latest
      completed scan of the base, so that its new findings are those the pull request brings.
    - Otherwise the previous completed scan of the same ref, as ever.
    - A ref's first scan (no earlier completed scan of it): the latest completed scan of the
      project's default branch, so that a new branch does not call new what its parent has.

    None when there is nothing to compare with (then every finding is new)."""
    if scan.base_ref and scan.base_ref != scan.ref:
        base = _latest_completed(scan=scan, ref=scan.base_ref)
        if base is not None:
            return base
    previous = previous_completed_scan(scan=scan)
    if previous is not None:
        return previous
    default_branch = scan.project.default_branch
    if default_branch and default_branch != scan.ref:
        return _latest_completed(scan=scan, ref=default_branch)
    return None


def advisory_updates(
    *, project_id: UUID, alerts: list[tuple[str, str]]
) -> dict[tuple[str, str], list[AdvisoryMatch]]:
    """What advisory updates did to each alert (``(ref, fingerprint)`` pairs of one project):
    the advisories they matched ("found by advisory update"), newest first, and those
    withdrawn since. One query for all."""
    found: dict[tuple[str, str], list[AdvisoryMatch]] = {}
    fingerprints = sorted({fingerprint for _, fingerprint in alerts})
    wanted = set(alerts)
    for start in range(0, len(fingerprints), 1000):
        rows = AdvisoryMatch.objects.filter(
            project_id=project_id, fingerprint__in=fingerprints[start : start + 1000]
        ).order_by("-matched_at", "-id")
        for row in rows:
            if (row.ref, row.fingerprint) in wanted:
                found.setdefault((row.ref, row.fingerprint), []).append(row)
    return found
