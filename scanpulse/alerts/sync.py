"""Bringing a project's alerts up to date with a completed scan of one of its refs.

Called by scans inside the one transaction that saves the scan's results, so alerts and
findings always agree: a fingerprint seen for the first time on the ref opens an alert; one
seen again updates its alert (its line, message and severity may change) and reopens it if
it was fixed or excluded; an open alert the scan no longer finds is fixed — unless the
configuration now excludes it (its path, its rule, its analyzer turned off: ``excluded``) or
the scan could not look (its analyzer failed, its file was not fully read: left as it was).
The one rule is ``scanpulse.pipeline.absence``, which the scan's summary follows too.

A grouped dependency alert (one per vulnerable package version) opened for the first time on
the ref closes the alerts its advisories had before grouping (one per advisory) as
``superseded``; a dismissal of every one of those advisories carries over to it
(``carry_over``). Other dismissals are not touched: they belong to the fingerprint, whatever
happens to the code.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction

from scanpulse.core.bulk import bulk_insert
from scanpulse.pipeline.absence import AbsenceRules
from scanpulse.projects.models import Project

from .models import Alert, AlertState, Dismissal, TriageAction
from .selectors import CarryOver
from .signals import alerts_opened

logger = logging.getLogger(__name__)

BATCH = 1000

# The fields of an alert that follow its newest finding.
_CURRENT = ("tool", "rule_id", "severity", "path", "start_line", "end_line", "message")


@dataclass(frozen=True, slots=True)
class Detected:
    """One finding of the scan, as stored (already redacted and storable)."""

    fingerprint: str
    tool: str
    rule_id: str
    severity: str
    path: str
    start_line: int | None
    end_line: int | None
    message: str
    # A grouped dependency finding: the fingerprints its advisories had before grouping, by
    # advisory id (``pipeline.fingerprints.pre_grouping_fingerprints``); empty for others.
    pre_grouping: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncResult:
    opened: int  # alerts seen for the first time on the ref
    reopened: int  # fixed alerts found again
    fixed: int  # open alerts no longer found
    # The fingerprints of the alerts the scan made open: seen for the first time on the ref,
    # or found again after a scan had fixed them (what a quality gate calls new). A grouped
    # dependency alert that took over from alerts of its advisories is not new.
    new: frozenset[str] = frozenset()
    excluded: int = 0  # open alerts the configuration now excludes
    included: int = 0  # excluded alerts the configuration includes again
    superseded: int = 0  # per-advisory dependency alerts a grouped one took over from


def lock_alerts(*, project_id: UUID) -> None:
    """Hold the project's alerts until the transaction ends: one sync of a project at a time,
    so two scans ending together never both open the same alert (the second would break the
    unique constraint and lose its results), and a scan's check that no newer one completed
    holds until its sync is done. Must run in a transaction."""
    list(Project.objects.select_for_update(no_key=True).filter(pk=project_id).values_list("pk"))


def alerts_sync(
    *,
    project_id: UUID,
    ref: str,
    scan_id: UUID,
    commit_sha: str,
    seen_at: datetime,
    detected: Iterable[Detected],
    tools_ran: Collection[str] = (),
    unsure: Collection[tuple[str | None, str]] = (),
    absence: AbsenceRules | None = None,
    carry_over: Mapping[str, CarryOver] | None = None,
) -> SyncResult:
    """Update the alerts of ``ref`` from what the scan ``scan_id`` detected. ``absence`` says
    why the scan did not report a finding (``pipeline.absence``); without it, ``tools_ran``
    names the analyzers that ran to the end (only their alerts can be fixed) and ``unsure``
    holds the (analyzer, path) pairs the scan could not fully look at (analyzer None: by every
    analyzer), whose alerts are not fixed either. ``carry_over``: what the project's
    dismissals of advisories before grouping say of each grouped dependency finding
    (``selectors.carried_over``, read before the scan's report). Must run in a transaction (the
    caller's)."""
    lock_alerts(project_id=project_id)
    rules = absence or AbsenceRules(tools_ran=frozenset(tools_ran), unsure=frozenset(unsure))
    existing = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(project_id=project_id, ref=ref)
        .only("id", "fingerprint", "state", "closed_reason", *_CURRENT)
        .iterator(chunk_size=BATCH)
    }
    history: list[TriageAction] = []

    def note(fingerprint: str, action: str, comment: str) -> None:
        history.append(
            TriageAction(
                project_id=project_id,
                fingerprint=fingerprint,
                action=action,
                comment=f"on {ref}: {comment}"[:2000],
                created_at=seen_at,
            )
        )

    superseded: dict[str, str] = {}  # old fingerprint → why
    carried: list[str] = []
    seen: set[str] = set()
    created: list[dict[str, Any]] = []
    changed: list[Alert] = []
    opened = reopened = included = 0
    new: set[str] = set()
    last_seen = {"last_seen_scan": scan_id, "last_seen_commit": commit_sha, "last_seen_at": seen_at}
    for finding in detected:
        if finding.fingerprint in seen:
            continue
        seen.add(finding.fingerprint)
        alert = existing.get(finding.fingerprint)
        current = {name: getattr(finding, name) for name in _CURRENT}
        if alert is None:
            opened += 1
            if not _take_over(finding, existing, superseded):
                new.add(finding.fingerprint)
            if carry_over and finding.fingerprint in carry_over:
                carried.append(finding.fingerprint)
            created.append(
                {
                    "project_id": project_id,
                    "ref": ref,
                    "fingerprint": finding.fingerprint,
                    "state": AlertState.OPEN,
                    "first_seen_scan": scan_id,
                    "first_seen_commit": commit_sha,
                    "first_seen_at": seen_at,
                    **last_seen,
                    **current,
                }
            )
            if len(created) >= BATCH:
                bulk_insert(Alert, created)  # plain rows: no model instance per alert
                created = []
            continue
        was_fixed = alert.state == AlertState.FIXED
        was_closed = alert.state in (AlertState.EXCLUDED, AlertState.SUPERSEDED)
        if (
            was_fixed
            or was_closed
            or any(getattr(alert, name) != value for name, value in current.items())
        ):
            reopened += was_fixed
            if was_fixed:
                new.add(finding.fingerprint)
            if alert.state == AlertState.EXCLUDED:
                included += 1
                note(
                    finding.fingerprint,
                    TriageAction.Kind.INCLUDED,
                    "found again: the configuration no longer excludes it "
                    f"(it was: {alert.closed_reason})",
                )
            for name, value in current.items():
                setattr(alert, name, value)
            alert.state = AlertState.OPEN
            alert.fixed_at = None
            alert.fixed_in_scan = None
            alert.closed_reason = ""
            changed.append(alert)
            if len(changed) >= BATCH:
                _save_changed(changed)
                changed = []
    bulk_insert(Alert, created)
    _save_changed(changed)
    for fingerprints in _batches(sorted(seen & existing.keys())):
        Alert.objects.filter(project_id=project_id, ref=ref, fingerprint__in=fingerprints).update(
            **last_seen
        )
    gone: list[UUID] = []
    excluded: dict[str, list[UUID]] = {}  # why → alerts
    for fingerprint, alert in existing.items():
        if fingerprint in seen or fingerprint in superseded:
            continue
        if alert.state not in (AlertState.OPEN, AlertState.EXCLUDED):
            continue
        why = rules.why(alert.tool, alert.rule_id, alert.path)
        if why.kind == "fixed":
            gone.append(alert.id)
            if alert.state == AlertState.EXCLUDED:
                included += 1
                note(
                    fingerprint,
                    TriageAction.Kind.INCLUDED,
                    "the configuration no longer excludes it, and it is not found: fixed "
                    f"(it was: {alert.closed_reason})",
                )
        elif why.kind == "excluded":
            if alert.state == AlertState.OPEN:
                note(fingerprint, TriageAction.Kind.EXCLUDED, f"not checked: {why.reason}")
            if alert.state == AlertState.OPEN or alert.closed_reason != why.reason:
                excluded.setdefault(why.reason, []).append(alert.id)
    for ids in _batches(gone):
        Alert.objects.filter(pk__in=ids).update(
            state=AlertState.FIXED, fixed_at=seen_at, fixed_in_scan=scan_id, closed_reason=""
        )
    newly_excluded = 0
    for reason, alert_ids in excluded.items():
        for ids in _batches(alert_ids):
            newly_excluded += Alert.objects.filter(pk__in=ids, state=AlertState.OPEN).count()
            Alert.objects.filter(pk__in=ids).update(
                state=AlertState.EXCLUDED,
                fixed_at=None,
                fixed_in_scan=None,
                closed_reason=reason[:500],
            )
    for fingerprint, reason in superseded.items():
        Alert.objects.filter(project_id=project_id, ref=ref, fingerprint=fingerprint).update(
            state=AlertState.SUPERSEDED, fixed_at=None, fixed_in_scan=None, closed_reason=reason
        )
        note(fingerprint, TriageAction.Kind.SUPERSEDED, reason)
    for fingerprint in carried:
        _carry(project_id, fingerprint, (carry_over or {})[fingerprint], seen_at, history)
    TriageAction.objects.bulk_create(history, batch_size=BATCH)
    if new:
        announce = {
            "project_id": str(project_id),
            "scan_id": str(scan_id),
            "ref": ref,
            "fingerprints": frozenset(new),
        }
        transaction.on_commit(lambda: _announce_opened(announce))
    return SyncResult(
        opened=opened,
        reopened=reopened,
        fixed=len(gone),
        new=frozenset(new),
        excluded=newly_excluded,
        included=included,
        superseded=len(superseded),
    )


def _take_over(
    finding: Detected, existing: Mapping[str, Alert], superseded: dict[str, str]
) -> bool:
    """Whether the new grouped dependency alert of ``finding`` takes over from alerts of its
    advisories on the ref (one per advisory, from before grouping): those still open, fixed or
    excluded are marked in ``superseded``, with why."""
    olds = [
        existing[fingerprint]
        for fingerprints in finding.pre_grouping.values()
        for fingerprint in fingerprints
        if fingerprint in existing
    ]
    if not olds:
        return False
    count = len(finding.pre_grouping)
    reason = (
        f"grouped into one alert per package version: {finding.message.split(':', 1)[0]} "
        f"({count} advisor{'y' if count == 1 else 'ies'})"
    )[:500]
    for old in olds:
        if old.state != AlertState.SUPERSEDED:
            superseded[old.fingerprint] = reason
    return True


def _carry(
    project_id: UUID,
    fingerprint: str,
    carry: CarryOver,
    now: datetime,
    history: list[TriageAction],
) -> None:
    """Record what the dismissals of a grouped alert's advisories before grouping say of it:
    a dismissal of them all carries over, a partial one is only noted."""
    if carry.dismissal is None:
        history.append(
            TriageAction(
                project_id=project_id,
                fingerprint=fingerprint,
                action=TriageAction.Kind.NOTE,
                comment=carry.note[:2000],
                created_at=now,
            )
        )
        return
    if Dismissal.objects.filter(project_id=project_id, fingerprint=fingerprint).exists():
        return  # dismissed meanwhile (another ref's scan, the team): that decision stands
    reason, comment, expires_at = carry.dismissal
    Dismissal.objects.create(
        project_id=project_id,
        fingerprint=fingerprint,
        reason=reason,
        comment=comment[:2000],
        expires_at=expires_at,
        dismissed_by=None,
        dismissed_at=now,
    )
    history.append(
        TriageAction(
            project_id=project_id,
            fingerprint=fingerprint,
            action=TriageAction.Kind.DISMISSED,
            reason=reason,
            comment=comment[:2000],
            expires_at=expires_at,
            created_at=now,
        )
    )


def _announce_opened(announce: dict[str, Any]) -> None:
    for receiver, result in alerts_opened.send_robust(sender=Alert, **announce):
        if isinstance(result, Exception):
            logger.error("a receiver of alerts_opened failed: %r", receiver, exc_info=result)


def _save_changed(alerts: list[Alert]) -> None:
    if alerts:
        Alert.objects.bulk_update(
            alerts, [*_CURRENT, "state", "fixed_at", "fixed_in_scan", "closed_reason"]
        )


def _batches(values: list[str] | list[UUID]) -> Iterator[list]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def alerts_update_from_advisories(
    *,
    project_id: UUID,
    ref: str,
    scan_id: UUID,
    commit_sha: str,
    seen_at: datetime,
    affected: Iterable[Detected],
    cleared: Collection[str] = (),
) -> frozenset[str]:
    """Bring alerts of ``ref`` up to date after an advisory load, without a scan: what the
    ref's latest completed scan (``scan_id``) depends on and advisories now ``affected``
    opens its alert (or reopens it, or updates its message and severity); the ``cleared``
    fingerprints, which no advisory affects any more, are fixed. Returns the fingerprints of
    the alerts it made open. Must run in a transaction (the caller's); the fingerprints and
    fields are those a scan would report, so the next scan recognises the same alerts."""
    lock_alerts(project_id=project_id)
    wanted = list(affected)
    fingerprints = [item.fingerprint for item in wanted] + list(cleared)
    existing = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(
            project_id=project_id, ref=ref, fingerprint__in=fingerprints
        )
    }
    opened: set[str] = set()
    for finding in wanted:
        alert = existing.get(finding.fingerprint)
        current = {name: getattr(finding, name) for name in _CURRENT}
        if alert is None:
            Alert.objects.create(
                project_id=project_id,
                ref=ref,
                fingerprint=finding.fingerprint,
                state=AlertState.OPEN,
                first_seen_scan=scan_id,
                first_seen_commit=commit_sha,
                first_seen_at=seen_at,
                last_seen_scan=scan_id,
                last_seen_commit=commit_sha,
                last_seen_at=seen_at,
                **current,
            )
            opened.add(finding.fingerprint)
            continue
        if alert.state == AlertState.FIXED:
            opened.add(finding.fingerprint)
        for name, value in current.items():
            setattr(alert, name, value)
        alert.state = AlertState.OPEN
        alert.fixed_at = None
        alert.fixed_in_scan = None
        _save_changed([alert])
    gone = [
        alert.pk
        for fingerprint, alert in existing.items()
        if fingerprint in cleared and alert.state == AlertState.OPEN
    ]
    if gone:
        # Fixed by no scan: the advisories that made it were withdrawn.
        Alert.objects.filter(pk__in=gone).update(
            state=AlertState.FIXED, fixed_at=seen_at, fixed_in_scan=None
        )
    return frozenset(opened)
