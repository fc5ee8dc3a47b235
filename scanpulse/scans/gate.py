"""Holding a scan to its project's quality gate (``scanpulse.projects.gate``).

A completed scan is evaluated once, in the transaction that saves its results, right after
the project's alerts for its ref were brought up to date (``scans.results``); the verdict is
stored on the scan (``Scan.gate``), sent with its terminal event and shown in its snapshot.
A scan that failed or was cancelled fails the gate whatever the policy.

What the conditions count, always among the scan's findings that are present (not ``fixed``)
and not dismissed when the scan ended (the dismissals the scan's findings record):

- *new*: alerts the scan made open on its ref — seen for the first time there, or found
  again after a scan had fixed them. A scan that did not move the alerts (a newer scan of the
  ref had already completed) counts its findings that are new since the previous scan; a
  scan compared with another branch (a pull request's target, a base, or the default branch
  for a ref's first scan: ``selectors.comparison_scan``) its findings that branch lacks.
- *secrets*: findings of the ``secrets`` analyzer.
- *fixable dependency alerts*: findings of the ``dependencies`` analyzer whose package version
  has an upgrade (``upgrade_to``) that fixes an advisory published (else last modified) more
  than the given number of days ago; for findings of scans before they were grouped per
  package version, one per advisory, its own fixed version and date.
- *open alerts*: distinct fingerprints at or above the severity.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from scanpulse.alerts.models import Alert
from scanpulse.pipeline.coverage import GATE_SEVERITIES, Coverage
from scanpulse.projects.gate import QualityGate
from scanpulse.projects.models import Project

from .models import Finding, FindingStatus, Scan, ScanStatus

# Ids of findings and alerts a failed condition names at most (its count is the full number).
IDS_KEPT = 100
SECRETS_TOOL = "secrets"
DEPENDENCIES_TOOL = "dependencies"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _at_or_above(severity: str) -> tuple[str, ...]:
    return GATE_SEVERITIES[: GATE_SEVERITIES.index(severity) + 1]


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def project_gate(project_id: Any) -> QualityGate:
    stored = Project.objects.filter(pk=project_id).values_list("gate_policy", flat=True).first()
    return QualityGate.from_stored(stored)


def not_completed_verdict(status: str) -> dict[str, Any]:
    """The verdict on a scan that failed or was cancelled: failed, whatever the policy."""
    return {
        "passed": False,
        "policy": None,
        "reasons": [f"the scan {status}"],
        "conditions": [],
        "matching": 0,
        "evaluated_at": timezone.now().isoformat().replace("+00:00", "Z"),
    }


def gate_evaluate(
    *,
    scan: Scan,
    policy: QualityGate,
    coverage: Coverage,
    new: Collection[str] | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The verdict of ``policy`` on the completed ``scan`` (its findings saved). ``new``: the
    fingerprints of the alerts the scan made open, or None when it did not move them."""
    now = now or timezone.now()
    present = scan.findings.filter(dismissed_reason__isnull=True).exclude(
        status=FindingStatus.FIXED
    )
    conditions = []
    at_fault: set[str] = set()  # the fingerprints the failed conditions count, once each
    for name in policy.enabled():
        if name == "require_complete":
            conditions.append(_complete(coverage))
            continue
        if name == "no_new_alerts_at_or_above":
            severity = str(policy.no_new_alerts_at_or_above)
            rows = _new(present.filter(severity__in=_at_or_above(severity)), new)
            label = f"new alert at or above {severity}", f"new alerts at or above {severity}"
            limit = 0
        elif name == "no_secrets":
            rows = list(present.filter(tool=SECRETS_TOOL).values_list("id", "fingerprint"))
            label = "secret found", "secrets found"
            limit = 0
        elif name == "no_fixable_dependency_alerts_older_than_days":
            days = int(policy.no_fixable_dependency_alerts_older_than_days or 0)
            rows = _fixable(present.filter(tool=DEPENDENCIES_TOOL), now - timedelta(days=days))
            label = (
                f"dependency alert with a fix known for more than {_plural(days, 'day')}",
                f"dependency alerts with a fix known for more than {_plural(days, 'day')}",
            )
            limit = 0
        else:  # max_open_alerts
            assert policy.max_open_alerts is not None
            severity, limit = policy.max_open_alerts
            rows = list(
                present.filter(severity__in=_at_or_above(severity)).values_list("id", "fingerprint")
            )
            label = f"open alert at or above {severity}", f"open alerts at or above {severity}"
        condition, fingerprints = _counted(scan, name, rows, label, limit)
        conditions.append(condition)
        if not condition["passed"]:
            at_fault.update(fingerprints)
    failed = [condition for condition in conditions if not condition["passed"]]
    return {
        "passed": not failed,
        "policy": policy.to_json(),
        "reasons": [condition["message"] for condition in failed],
        "conditions": conditions,
        # Alerts (distinct fingerprints) the failed conditions count: one failing two
        # conditions counts once.
        "matching": len(at_fault),
        "evaluated_at": now.isoformat().replace("+00:00", "Z"),
    }


def _new(findings: QuerySet[Finding], new: Collection[str] | None) -> list[tuple[Any, str]]:
    if new is None:
        return list(findings.filter(status=FindingStatus.NEW).values_list("id", "fingerprint"))
    rows = findings.values_list("id", "fingerprint")
    return [(pk, fingerprint) for pk, fingerprint in rows.iterator() if fingerprint in new]


def _fixable(findings: QuerySet[Finding], before: datetime) -> list[tuple[Any, str]]:
    rows = []
    for pk, fingerprint, properties in findings.values_list(
        "id", "fingerprint", "properties"
    ).iterator(chunk_size=1000):
        properties = properties if isinstance(properties, dict) else {}
        known = _fix_known_since(properties)
        if known is not None and known < before:
            rows.append((pk, fingerprint))
    return rows


def _fix_known_since(properties: dict[str, Any]) -> datetime | None:
    """Since when a fix of the finding's package version is known: the oldest advisory that
    the recommended upgrade fixes (one finding per package version), or the finding's own
    advisory (one finding per advisory, scans before they were grouped); None without a fix."""
    advisories = properties.get("advisories")
    if isinstance(advisories, list):
        if not properties.get("upgrade_to"):
            return None
        left = set(properties.get("not_fixed_by_upgrade") or ())
        dates = [
            _when(advisory.get("published"))
            for advisory in advisories
            if isinstance(advisory, dict)
            and advisory.get("fixed_versions")
            and advisory.get("id") not in left
        ]
        known = [date for date in dates if date is not None]
        return min(known) if known else None
    if not properties.get("fix_available", bool(properties.get("fixed_versions"))):
        return None
    return _when(properties.get("published"))


def _counted(
    scan: Scan,
    name: str,
    rows: Iterable[tuple[Any, str]],
    label: tuple[str, str],
    limit: int,
) -> tuple[dict[str, Any], set[str]]:
    ids: list[str] = []
    fingerprints: dict[str, None] = {}
    for pk, fingerprint in rows:
        if fingerprint not in fingerprints and len(ids) < IDS_KEPT:
            ids.append(str(pk))
        fingerprints.setdefault(fingerprint)
    count = len(fingerprints)
    passed = count <= limit
    message = _plural(count, *label) if count else f"no {label[0]}"
    if limit:
        message += f" (at most {limit} allowed)"
    alerts: list[str] = []
    if not passed:
        alerts = sorted(
            str(pk)
            for pk in Alert.objects.filter(
                project_id=scan.project_id,
                ref=scan.ref,
                fingerprint__in=list(fingerprints)[:IDS_KEPT],
            ).values_list("id", flat=True)
        )
    return {
        "condition": name,
        "passed": passed,
        "count": count,
        "message": message,
        "findings": [] if passed else ids,
        "alerts": alerts,
    }, set(fingerprints)


def _complete(coverage: Coverage) -> dict[str, Any]:
    message = (
        "the scan is complete"
        if coverage.complete
        else f"the scan is incomplete: {coverage.describe() or 'see its gaps'}"
    )
    return {
        "condition": "require_complete",
        "passed": coverage.complete,
        "count": 0 if coverage.complete else coverage.total,
        "message": message,
        "findings": [],
        "alerts": [],
    }


def scan_gate(scan: Scan) -> dict[str, Any]:
    """The scan's verdict under its project's policy: the one stored when it finished, or for
    a scan that finished before verdicts were stored, the project's policy now, evaluated on
    its findings."""
    if isinstance(scan.gate, dict):
        return scan.gate
    if scan.status != ScanStatus.COMPLETED:
        return not_completed_verdict(scan.status)
    return gate_evaluate(
        scan=scan,
        policy=project_gate(scan.project_id),
        coverage=Coverage.from_summary(scan.summary),
        new=None,
    )
