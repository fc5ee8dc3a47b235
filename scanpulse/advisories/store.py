"""Loading OSV advisories into the database, and handing them to analyzer processes.

Two ways in: ``sync_advisories`` replaces everything with the records of a directory or zip,
``apply_feed`` brings one ecosystem's records of the OSV feed up to date, replacing only the
records whose content changed. Either way the change commits in one transaction (scans never
see a half-loaded database) and, once committed, ``signals.advisories_changed`` names the
records added, modified or withdrawn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from .models import AdvisoryDataset, AdvisoryRecord, FeedState
from .osv import Advisory, normalize_name, record_digest
from .osv_files import iter_records
from .signals import advisories_changed

logger = logging.getLogger(__name__)

BATCH = 2000
DELETE_BATCH = 500  # ids per DELETE … IN (…): under SQLite's variable limit
KEPT_ERRORS = 100
# The problems of an ecosystem's export kept on its feed state, for the Advisories page.
SHOWN_PROBLEMS = 20
FEED_SOURCE = "OSV.dev ecosystem exports"
# Records of a feed sync being written, not yet part of the data (never active).
STAGING_SOURCE = "staging: OSV feed records being loaded"
STAGING_ABANDONED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SyncReport:
    dataset_id: int
    records: int
    errors: list[str]
    changed_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedLoad:
    """What one ecosystem's export changed: ids added, modified (withdrawn ones included),
    and gone from the export."""

    ecosystem: str
    records: int
    added: list[str]
    modified: list[str]
    removed: list[str]
    errors: list[str]

    @property
    def changed_ids(self) -> list[str]:
        return sorted({*self.added, *self.modified, *self.removed})


def _rows(
    dataset: AdvisoryDataset, advisory: Advisory, digest: str, feed: str
) -> Iterator[AdvisoryRecord]:
    record = advisory.to_dict()
    for ecosystem, name in dict.fromkeys(entry.package_key for entry in advisory.affected):
        yield AdvisoryRecord(
            dataset=dataset,
            ecosystem=ecosystem,
            name=name,
            osv_id=advisory.id,
            record=record,
            feed=feed,
            digest=digest,
        )


def _digests(dataset: AdvisoryDataset | None, *, feed: str | None = None) -> dict[str, str]:
    """``osv_id → digest`` of the dataset's records (of one feed's, if given)."""
    if dataset is None:
        return {}
    rows = AdvisoryRecord.objects.filter(dataset=dataset)
    if feed is not None:
        rows = rows.filter(feed=feed)
    return dict(rows.values_list("osv_id", "digest").distinct().iterator(chunk_size=BATCH))


def _announce(ids: Iterable[str]) -> None:
    """Tell the receivers (dependency monitoring) which records changed, once committed; a
    receiver that fails is logged and keeps no other from hearing it."""
    changed = sorted(set(ids))
    if changed:
        transaction.on_commit(lambda: _send(changed))


def _send(ids: list[str]) -> None:
    for receiver, result in advisories_changed.send_robust(sender=AdvisoryDataset, ids=ids):
        if isinstance(result, Exception):
            logger.error("a receiver of advisories_changed failed: %r", receiver, exc_info=result)


def sync_advisories(path: Path | str, *, source: str | None = None) -> SyncReport:
    """Load every record under ``path`` (a directory of YAML/JSON files, or an OSV ``all.zip``)
    and make it the active dataset. The previous data stays active until the new load has
    committed, so scans never see a half-loaded database."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {path}")
    errors: list[str] = []
    with transaction.atomic():
        previous = _digests(active_dataset())
        dataset = AdvisoryDataset.objects.create(
            source=source or str(path.resolve()), loaded_at=timezone.now()
        )
        batch: list[AdvisoryRecord] = []
        loaded: dict[str, str] = {}
        for advisory in iter_records(path, errors):
            digest = record_digest(advisory)
            loaded[advisory.id] = digest
            batch.extend(_rows(dataset, advisory, digest, ""))
            if len(batch) >= BATCH:
                AdvisoryRecord.objects.bulk_create(batch)
                batch.clear()
        AdvisoryRecord.objects.bulk_create(batch)
        if not loaded:
            raise ValueError(f"No OSV records found in {path}.")
        dataset.record_count = len(loaded)
        dataset.error_count = len(errors)
        dataset.errors = errors[:KEPT_ERRORS]
        dataset.is_active = True
        dataset.save()
        AdvisoryDataset.objects.exclude(pk=dataset.pk).exclude(
            source=STAGING_SOURCE, loaded_at__gte=timezone.now() - STAGING_ABANDONED
        ).delete()
        # The feed's exports are no longer what is loaded: the next sync downloads them whole.
        FeedState.objects.update(etag="", last_modified="", records=0)
        changed = [
            osv_id
            for osv_id in loaded.keys() | previous.keys()
            if loaded.get(osv_id) != previous.get(osv_id)
        ]
        _announce(changed)
    return SyncReport(dataset.pk, len(loaded), errors, sorted(changed))


def feed_digests(ecosystem: str) -> dict[str, str]:
    """``osv_id → digest`` of the records loaded from this ecosystem's export."""
    dataset = active_dataset()
    if dataset is None or not dataset.is_feed:
        return {}
    return _digests(dataset, feed=ecosystem)


def feed_checked(ecosystem: str, *, url: str, error: str = "") -> None:
    """The export was asked for and did not change (or could not be used: ``error``); the
    data stays as it is."""
    FeedState.objects.update_or_create(
        ecosystem=ecosystem,
        defaults={"url": url, "last_checked_at": timezone.now(), "last_error": error[:1000]},
    )


def apply_feed(
    ecosystem: str,
    *,
    url: str,
    etag: str,
    last_modified: str,
    present: dict[str, str],
    read: Callable[[set[str]], Iterator[Advisory]],
    errors: list[str],
    progress: Callable[[int], None] | None = None,
) -> FeedLoad:
    """Bring the records of ``ecosystem``'s export up to date with a verified new copy.

    ``present``: every record id of the export with its ``record_digest``; ``read(ids)``
    yields those records. Only records that are new or whose digest changed are read and
    replaced; records gone from the export are removed from the data.

    The new records are first written to a staging dataset that nothing reads, in short
    transactions (a first sync writes hundreds of thousands: one long transaction would hold
    SQLite's write lock for minutes); one short transaction then swaps them in, so scans see
    the old records or the new ones, never a mix.
    """
    current = active_dataset()
    before = _digests(current, feed=ecosystem) if current is not None and current.is_feed else {}
    wanted = {osv_id for osv_id, digest in present.items() if before.get(osv_id) != digest}
    staging = AdvisoryDataset.objects.create(source=STAGING_SOURCE, loaded_at=timezone.now())
    try:
        batch: list[AdvisoryRecord] = []
        for done, advisory in enumerate(read(wanted), start=1):
            batch.extend(_rows(staging, advisory, present[advisory.id], ecosystem))
            if len(batch) >= BATCH:
                AdvisoryRecord.objects.bulk_create(batch)
                batch.clear()
            if progress is not None:
                progress(done)
        AdvisoryRecord.objects.bulk_create(batch)
        return _swap_in(ecosystem, staging, wanted, url, etag, last_modified, present, errors)
    finally:
        AdvisoryDataset.objects.filter(pk=staging.pk).delete()


def _swap_in(
    ecosystem: str,
    staging: AdvisoryDataset,
    wanted: set[str],
    url: str,
    etag: str,
    last_modified: str,
    present: dict[str, str],
    errors: list[str],
) -> FeedLoad:
    now = timezone.now()
    with transaction.atomic():
        current = active_dataset()
        dropped: set[str] = set()
        if current is None or not current.is_feed:
            # The first feed sync replaces data loaded from a path.
            dropped = set(_digests(current))
            dataset = AdvisoryDataset.objects.create(
                source=FEED_SOURCE, loaded_at=now, is_feed=True
            )
            FeedState.objects.update(etag="", last_modified="", records=0)
        else:
            dataset = AdvisoryDataset.objects.select_for_update().get(pk=current.pk)
        # Read again inside the transaction: another sync may have committed meanwhile.
        existing = _digests(dataset, feed=ecosystem)
        removed = sorted(existing.keys() - present.keys())
        stale = sorted(wanted & existing.keys()) + removed
        for start in range(0, len(stale), DELETE_BATCH):
            AdvisoryRecord.objects.filter(
                dataset=dataset, feed=ecosystem, osv_id__in=stale[start : start + DELETE_BATCH]
            ).delete()
        AdvisoryRecord.objects.filter(dataset=staging).update(dataset=dataset)
        added = sorted(wanted - existing.keys())
        modified = sorted(wanted & existing.keys())
        changed = bool(
            added or modified or removed or dropped or dataset.pk != getattr(current, "pk", None)
        )
        state = {
            "url": url,
            "etag": etag[:500],
            "last_modified": last_modified[:100],
            "records": len(present),
            "last_checked_at": now,
            "last_error": "",
            "problem_count": len(errors),
            "problems": errors[:SHOWN_PROBLEMS],
        }
        if not changed:
            # A new copy with the same records (the export was written again): nothing to
            # load, no new snapshot, no signal.
            FeedState.objects.update_or_create(ecosystem=ecosystem, defaults=state)
            return FeedLoad(ecosystem, len(present), [], [], [], errors)
        FeedState.objects.update_or_create(
            ecosystem=ecosystem, defaults=state | {"last_changed_at": now}
        )
        dataset.record_count = FeedState.objects.aggregate(total=Sum("records"))["total"] or 0
        dataset.error_count = len(errors)
        dataset.errors = errors[:KEPT_ERRORS]
        dataset.loaded_at = now  # a new snapshot for the analyzers
        dataset.is_active = True
        dataset.save()
        # Every other dataset goes, but not another sync's staging (unless long abandoned).
        AdvisoryDataset.objects.exclude(pk=dataset.pk).exclude(
            source=STAGING_SOURCE, loaded_at__gte=now - STAGING_ABANDONED
        ).delete()
        _announce([*added, *modified, *removed, *dropped])
    return FeedLoad(ecosystem, len(present), added, modified, removed, errors)


def feed_states() -> list[FeedState]:
    return list(FeedState.objects.all())


def active_dataset() -> AdvisoryDataset | None:
    return AdvisoryDataset.objects.filter(is_active=True).first()


def describe(dataset: AdvisoryDataset) -> str:
    loaded = dataset.loaded_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{dataset.source}, {dataset.record_count:,} records, loaded {loaded}"


def _snapshot_version(loaded_at: datetime) -> int:
    return int(loaded_at.timestamp() * 1_000_000)


def ensure_snapshot(directory: Path) -> Path | None:
    """The snapshot file of the active dataset, exported on first use; None without data."""
    from .snapshot import write_snapshot

    dataset = active_dataset()
    if dataset is None:
        return None
    path = directory / f"advisories-{dataset.pk}-{_snapshot_version(dataset.loaded_at)}.sqlite3"
    if not path.exists():
        # Names are normalized again: rows stored before NuGet and Packagist names were
        # compared case-insensitively keep their spelling.
        rows = (
            (ecosystem, normalize_name(ecosystem, name), json.dumps(record))
            for ecosystem, name, record in dataset.records.values_list(
                "ecosystem", "name", "record"
            ).iterator(chunk_size=BATCH)
        )
        write_snapshot(path, rows, description=describe(dataset))
        for stale in directory.glob("advisories-*.sqlite3"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return path
