"""Dependency monitoring without re-scans: after an advisory load, the stored inventory of the
latest completed scan of every project and ref is matched again against the records that
changed.

Only inventory rows whose package (ecosystem, normalized name) one of the changed records
names are read. For each such row the package's advisories are looked up in the active
dataset and evaluated as a scan would (``analyzers.dependencies.findings``): the alert it
gives has the fingerprint, message and severity a scan of the same commit would report, so
the next scan recognises it. A row that advisories now affect opens (or updates) its alert
(``alerts.sync.alerts_update_from_advisories``), and each advisory new to that alert is
recorded (``AdvisoryMatch``: "found by advisory update", with the advisory's date); a row no
advisory affects any more (its advisories withdrawn) fixes its alert.

New matches are announced once the transaction committed: an ``advisory`` event in the log of
the scan whose inventory matched (which the organization's stream carries), and
``signals.advisory_matched`` (outbound webhooks listen). Dismissed fingerprints are updated
but never announced.

The work runs in the background (``schedule_rematch``): a Celery task in production, a thread
in the embedded server and in commands. Never a scan.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Q
from django.utils import timezone

from scanpulse.advisories.index import merge_by_alias
from scanpulse.advisories.matching import advisory_affects
from scanpulse.advisories.models import AdvisoryRecord
from scanpulse.advisories.osv import Advisory, OSVError
from scanpulse.advisories.store import active_dataset
from scanpulse.alerts.selectors import dismissed_fingerprints
from scanpulse.alerts.sync import Detected, alerts_update_from_advisories
from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.analyzers.dependencies.findings import (
    VULNERABLE_RULE_ID,
    advisory_title,
    vulnerable_finding,
)
from scanpulse.analyzers.dependencies.manifests import Dependency
from scanpulse.core.text import storable
from scanpulse.pipeline.fingerprints import assign_fingerprints

from .log import append_event
from .models import AdvisoryMatch, Finding, InventoryItem, Scan, ScanStatus
from .signals import advisory_matched

logger = logging.getLogger(__name__)

TOOL = "dependencies"
# Packages per inventory query.
PACKAGE_BATCH = 200
# The Celery task's name, shared by the sender and the workers (``scans.tasks``).
REMATCH_TASK = "scanpulse.scans.rematch_advisories"


@dataclass(slots=True)
class _Hit:
    """One inventory row of a ref's latest scan and what advisories now say about it."""

    item: InventoryItem
    fingerprint: str
    detected: Detected | None  # None: no advisory affects it any more
    advisories: list[Advisory]  # the (merged) advisories affecting it


@dataclass(slots=True)
class RematchReport:
    matched: int = 0  # (alert, advisory) pairs found by this update
    opened: int = 0  # alerts made open
    fixed: int = 0  # alerts fixed: their advisories withdrawn
    scans: set[UUID] = field(default_factory=set)


def schedule_rematch(ids: list[str]) -> None:
    """Start ``rematch(ids)`` in the background: the receiver of
    ``advisories.signals.advisories_changed`` (sent after the load committed)."""
    if not ids:
        return
    if "celery" in settings.SCANPULSE_SCAN_EXECUTOR.lower():
        from .executors.celery import celery_app

        celery_app().send_task(REMATCH_TASK, args=[list(ids)])
        return
    # Not a daemon: a command that loaded the advisories (``scanpulse advisories sync``)
    # finishes the re-match before its process exits.
    thread = threading.Thread(
        target=_rematch_in_thread, args=(list(ids),), name="scanpulse-rematch", daemon=False
    )
    thread.start()


def _rematch_in_thread(ids: list[str]) -> None:
    try:
        rematch(ids)
    except Exception:
        logger.exception("matching stored inventories against changed advisories failed")
    finally:
        connections.close_all()


def on_advisories_changed(sender: Any, *, ids: list[str], **kwargs: Any) -> None:
    schedule_rematch(list(ids))


def rematch(ids: Iterable[str]) -> RematchReport:
    """Match the latest inventory of every project and ref against the changed records
    ``ids`` (added, modified or withdrawn); see the module's description."""
    close_old_connections()
    ids = set(ids)
    report = RematchReport()
    dataset = active_dataset()
    if dataset is None or not ids:
        return report
    changed = _changed_records(dataset.pk, ids)
    packages = {entry.package_key for advisory in changed for entry in advisory.affected}
    live_ids = {advisory.id for advisory in changed if advisory.withdrawn is None}
    gone_ids = ids - live_ids
    # Matches recorded before for records withdrawn or gone since.
    if gone_ids:
        AdvisoryMatch.objects.filter(osv_id__in=gone_ids, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now()
        )
    lookups: dict[tuple[str, str], list[Advisory]] = {}
    by_scan: dict[UUID, list[_Hit]] = defaultdict(list)
    for item in _latest_inventory(packages):
        key = (item.ecosystem, item.name)
        if key not in lookups:
            lookups[key] = _package_advisories(dataset.pk, *key)
        by_scan[item.scan_id].append(_evaluate(item, lookups[key]))
    for scan_id, hits in by_scan.items():
        _apply(scan_id, hits, live_ids, gone_ids, report)
    logger.info(
        "advisory update: %d records changed, %d matches, %d alerts opened, %d fixed",
        len(ids),
        report.matched,
        report.opened,
        report.fixed,
    )
    return report


def _changed_records(dataset_id: int, ids: set[str]) -> list[Advisory]:
    found: dict[str, Advisory] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 1000):
        rows = AdvisoryRecord.objects.filter(
            dataset_id=dataset_id, osv_id__in=ordered[start : start + 1000]
        ).values_list("osv_id", "record")
        for osv_id, record in rows.iterator(chunk_size=1000):
            if osv_id in found:
                continue
            try:
                found[osv_id] = Advisory.from_dict(record)
            except OSVError:
                continue
    return list(found.values())


def _package_advisories(dataset_id: int, ecosystem: str, name: str) -> list[Advisory]:
    """The package's merged, non-withdrawn advisories in the active dataset (as the index of
    a scan gives them)."""
    records = []
    rows = AdvisoryRecord.objects.filter(dataset_id=dataset_id, ecosystem=ecosystem, name=name)
    for record in rows.values_list("record", flat=True):
        try:
            records.append(Advisory.from_dict(record))
        except OSVError:
            continue
    return merge_by_alias(records)


def _latest_inventory(packages: set[tuple[str, str]]) -> Iterator[InventoryItem]:
    """The inventory rows naming one of ``packages`` that belong to the latest completed
    scan of their project and ref."""
    ordered = sorted(packages)
    latest: dict[tuple[UUID, str], UUID] = {}
    for start in range(0, len(ordered), PACKAGE_BATCH):
        condition = Q()
        for ecosystem, name in ordered[start : start + PACKAGE_BATCH]:
            condition |= Q(ecosystem=ecosystem, name=name)
        rows = list(
            InventoryItem.objects.filter(condition, scan__status=ScanStatus.COMPLETED)
            .select_related("scan")
            .order_by("id")
        )
        for pair in {(row.scan.project_id, row.scan.ref) for row in rows} - latest.keys():
            newest = (
                Scan.objects.filter(project_id=pair[0], ref=pair[1], status=ScanStatus.COMPLETED)
                .order_by("-created_at")
                .values_list("id", flat=True)
                .first()
            )
            if newest is not None:
                latest[pair] = newest
        for row in rows:
            if latest.get((row.scan.project_id, row.scan.ref)) == row.scan_id:
                yield row


def _evaluate(item: InventoryItem, known: list[Advisory]) -> _Hit:
    dependency = Dependency(
        ecosystem=item.ecosystem,
        name=item.name,
        version=item.version,
        spec=f"{item.name}@{item.version}",
        path=item.path,
        line=item.line,
        direct=item.direct,
    )
    affecting = [
        advisory
        for advisory in known
        if advisory_affects(advisory, item.ecosystem, item.name, item.version)
    ]
    # The identity a scan gives the finding: tool, rule, manifest and package version.
    identity = AnalyzerFinding(
        rule_id=VULNERABLE_RULE_ID,
        severity="info",
        confidence="high",
        path=item.path,
        start_line=item.line,
        end_line=item.line,
        message="",
        snippet=f"{item.ecosystem}:{item.name}@{item.version}",
    )
    fingerprint = assign_fingerprints(TOOL, [identity])[0]
    detected = None
    if affecting:
        finding = vulnerable_finding([dependency], item.version, affecting, known)
        detected = Detected(
            fingerprint=fingerprint,
            tool=TOOL,
            rule_id=VULNERABLE_RULE_ID,
            severity=finding.severity,
            path=storable(finding.path[:1024]),
            start_line=finding.start_line,
            end_line=finding.end_line,
            message=storable(finding.message),
        )
    return _Hit(item, fingerprint, detected, affecting)


def _ids(advisory: Advisory) -> set[str]:
    return {advisory.id, *advisory.aliases}


def _known_before(scan: Scan, fingerprints: list[str]) -> dict[str, set[str]]:
    """The advisory ids each alert already had: those its scan's finding listed and those
    advisory updates added since (withdrawn ones included: a record withdrawn and published
    again is not news)."""
    known: dict[str, set[str]] = defaultdict(set)
    findings = Finding.objects.filter(
        scan=scan, tool=TOOL, fingerprint__in=fingerprints
    ).values_list("fingerprint", "properties")
    for fingerprint, properties in findings:
        known[fingerprint].update(str(item) for item in properties.get("advisory_ids", []))
    matches = AdvisoryMatch.objects.filter(
        project_id=scan.project_id,
        ref=scan.ref,
        fingerprint__in=fingerprints,
        withdrawn_at__isnull=True,
    ).values_list("fingerprint", "osv_id")
    for fingerprint, osv_id in matches:
        known[fingerprint].add(osv_id)
    return known


def _apply(
    scan_id: UUID, hits: list[_Hit], live_ids: set[str], gone_ids: set[str], report: RematchReport
) -> None:
    now = timezone.now()
    with transaction.atomic():
        scan = Scan.objects.select_related("project").filter(pk=scan_id).first()
        if scan is None:
            return
        fingerprints = [hit.fingerprint for hit in hits]
        known = _known_before(scan, fingerprints)
        cleared = {
            hit.fingerprint
            for hit in hits
            if hit.detected is None and known.get(hit.fingerprint, set()) & gone_ids
        }
        cleared -= {hit.fingerprint for hit in hits if hit.detected is not None}
        opened = alerts_update_from_advisories(
            project_id=scan.project_id,
            ref=scan.ref,
            scan_id=scan.id,
            commit_sha=scan.commit_sha,
            seen_at=now,
            affected=[hit.detected for hit in hits if hit.detected is not None],
            cleared=cleared,
        )
        report.fixed += len(cleared)
        report.opened += len(opened)
        matches: list[dict[str, Any]] = []
        for hit in hits:
            if hit.detected is None:
                continue
            before = known.get(hit.fingerprint, set())
            new = [
                advisory
                for advisory in hit.advisories
                if _ids(advisory) & live_ids
                and (hit.fingerprint in opened or not _ids(advisory) & before)
            ]
            if not new:
                continue
            for advisory in new:
                AdvisoryMatch.objects.update_or_create(
                    project_id=scan.project_id,
                    ref=scan.ref,
                    fingerprint=hit.fingerprint,
                    osv_id=advisory.id,
                    defaults={
                        "scan": scan,
                        "advisory_date": advisory_date(advisory),
                        "matched_at": now,
                        "found_by_update": True,
                        "withdrawn_at": None,
                    },
                )
            report.matched += len(new)
            matches.append(_match_data(hit, new))
        for fingerprint in cleared:
            for osv_id in known.get(fingerprint, set()) & gone_ids:
                AdvisoryMatch.objects.get_or_create(
                    project_id=scan.project_id,
                    ref=scan.ref,
                    fingerprint=fingerprint,
                    osv_id=osv_id,
                    defaults={
                        "scan": scan,
                        "matched_at": now,
                        "found_by_update": False,
                        "withdrawn_at": now,
                    },
                )
        dismissed = set(dismissed_fingerprints(project_id=scan.project_id))
        announced = [match for match in matches if match["fingerprint"] not in dismissed]
        if announced:
            report.scans.add(scan.id)
            data = {
                "project": {"id": str(scan.project_id), "name": scan.project.name},
                "ref": scan.ref,
                "matches": announced,
            }
            append_event(scan_id=scan.id, kind="advisory", data=data)
            details = {
                "organization_id": str(scan.organization_id),
                "project_id": str(scan.project_id),
                "scan_id": str(scan.id),
                "ref": scan.ref,
                "matches": announced,
            }
            transaction.on_commit(lambda: _announce(details))


def advisory_date(advisory: Advisory) -> str:
    """When the advisory became known: its publication, else its last change."""
    return advisory.published or advisory.modified


def _match_data(hit: _Hit, new: list[Advisory]) -> dict[str, Any]:
    item = hit.item
    assert hit.detected is not None
    return {
        "fingerprint": hit.fingerprint,
        "severity": hit.detected.severity,
        "ecosystem": item.ecosystem,
        "package": item.name,
        "version": item.version,
        "manifest": item.path,
        "direct": item.direct,
        "message": hit.detected.message[:500],
        "advisories": [
            {
                "id": advisory.id,
                "aliases": list(advisory.aliases),
                "summary": advisory_title(advisory),
                "published": advisory_date(advisory),
                "modified": advisory.modified,
            }
            for advisory in new
        ],
    }


def _announce(details: dict[str, Any]) -> None:
    for receiver, result in advisory_matched.send_robust(sender=AdvisoryMatch, **details):
        if isinstance(result, Exception):
            logger.error("a receiver of advisory_matched failed: %r", receiver, exc_info=result)
