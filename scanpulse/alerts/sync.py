"""Bringing a project's alerts up to date with a completed scan of one of its refs.

Called by scans inside the one transaction that saves the scan's results, so alerts and
findings always agree: a fingerprint seen for the first time on the ref opens an alert; one
seen again updates its alert (its line, message and severity may change) and reopens it if
it was fixed; an open alert the scan no longer finds is fixed — unless the analyzer that
reported it failed in this scan, which says nothing about it. Dismissals are not touched: they
belong to the fingerprint, whatever happens to the code.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction

from scanpulse.projects.models import Project

from .models import Alert, AlertState
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


@dataclass(frozen=True, slots=True)
class SyncResult:
    opened: int  # alerts seen for the first time on the ref
    reopened: int  # fixed alerts found again
    fixed: int  # open alerts no longer found
    # The fingerprints of the alerts the scan made open: seen for the first time on the ref,
    # or found again after a scan had fixed them (what a quality gate calls new).
    new: frozenset[str] = frozenset()


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
    tools_ran: Collection[str],
    unsure: Collection[tuple[str | None, str]] = (),
) -> SyncResult:
    """Update the alerts of ``ref`` from what the scan ``scan_id`` detected. ``tools_ran``
    names the analyzers that ran to the end: only their alerts can be fixed. ``unsure`` holds
    the (analyzer, path) pairs the scan could not fully look at (a file skipped or only partly
    analyzed; analyzer None: by every analyzer): their alerts are not fixed either, since not
    finding them there says nothing. Must run in a transaction (the caller's)."""
    lock_alerts(project_id=project_id)
    existing = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(project_id=project_id, ref=ref)
        .only("id", "fingerprint", "state", *_CURRENT)
        .iterator(chunk_size=BATCH)
    }
    seen: set[str] = set()
    created: list[Alert] = []
    changed: list[Alert] = []
    opened = reopened = 0
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
            new.add(finding.fingerprint)
            created.append(
                Alert(
                    project_id=project_id,
                    ref=ref,
                    fingerprint=finding.fingerprint,
                    state=AlertState.OPEN,
                    first_seen_scan=scan_id,
                    first_seen_commit=commit_sha,
                    first_seen_at=seen_at,
                    **last_seen,
                    **current,
                )
            )
            if len(created) >= BATCH:
                Alert.objects.bulk_create(created)
                created = []
            continue
        was_fixed = alert.state == AlertState.FIXED
        if was_fixed or any(getattr(alert, name) != value for name, value in current.items()):
            reopened += was_fixed
            if was_fixed:
                new.add(finding.fingerprint)
            for name, value in current.items():
                setattr(alert, name, value)
            alert.state = AlertState.OPEN
            alert.fixed_at = None
            alert.fixed_in_scan = None
            changed.append(alert)
            if len(changed) >= BATCH:
                _save_changed(changed)
                changed = []
    Alert.objects.bulk_create(created)
    _save_changed(changed)
    for fingerprints in _batches(sorted(seen & existing.keys())):
        Alert.objects.filter(project_id=project_id, ref=ref, fingerprint__in=fingerprints).update(
            **last_seen
        )
    gone = [
        alert.id
        for fingerprint, alert in existing.items()
        if fingerprint not in seen
        and alert.state == AlertState.OPEN
        and alert.tool in tools_ran
        and (alert.tool, alert.path) not in unsure
        and (None, alert.path) not in unsure
    ]
    for ids in _batches(gone):
        Alert.objects.filter(pk__in=ids).update(
            state=AlertState.FIXED, fixed_at=seen_at, fixed_in_scan=scan_id
        )
    if new:
        announce = {
            "project_id": str(project_id),
            "scan_id": str(scan_id),
            "ref": ref,
            "fingerprints": frozenset(new),
        }
        transaction.on_commit(lambda: _announce_opened(announce))
    return SyncResult(opened=opened, reopened=reopened, fixed=len(gone), new=frozenset(new))


def _announce_opened(announce: dict[str, Any]) -> None:
    for receiver, result in alerts_opened.send_robust(sender=Alert, **announce):
        if isinstance(result, Exception):
            logger.error("a receiver of alerts_opened failed: %r", receiver, exc_info=result)


def _save_changed(alerts: list[Alert]) -> None:
    if alerts:
        Alert.objects.bulk_update(alerts, [*_CURRENT, "state", "fixed_at", "fixed_in_scan"])


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
