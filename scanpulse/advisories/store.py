"""Loading OSV advisories into the database, and handing them to analyzer processes."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from .models import AdvisoryDataset, AdvisoryRecord
from .osv import iter_records, normalize_name
from .signals import advisories_changed

logger = logging.getLogger(__name__)

BATCH = 2000
KEPT_ERRORS = 100


@dataclass(frozen=True, slots=True)
class SyncReport:
    dataset_id: int
    records: int
    errors: list[str]
    # The OSV ids added, modified or withdrawn (or gone) compared with the previous load.
    changed: list[str] = field(default_factory=list)


def sync_advisories(path: Path | str, *, source: str | None = None) -> SyncReport:
    """Load every record under ``path`` (a directory of YAML/JSON files, or an OSV ``all.zip``)
    and make it the active dataset. The previous data stays active until the new load has
    committed, so scans never see a half-loaded database."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {path}")
    errors: list[str] = []
    with transaction.atomic():
        before = _record_digests(active_dataset())
        seen: dict[str, str] = {}
        dataset = AdvisoryDataset.objects.create(
            source=source or str(path.resolve()), loaded_at=timezone.now()
        )
        batch: list[AdvisoryRecord] = []
        count = 0
        for advisory in iter_records(path, errors):
            count += 1
            record = advisory.to_dict()
            seen[advisory.id] = _digest(record)
            for ecosystem, name in dict.fromkeys(entry.package_key for entry in advisory.affected):
                batch.append(
                    AdvisoryRecord(
                        dataset=dataset,
                        ecosystem=ecosystem,
                        name=name,
                        osv_id=advisory.id,
                        record=record,
                    )
                )
            if len(batch) >= BATCH:
                AdvisoryRecord.objects.bulk_create(batch)
                batch.clear()
        AdvisoryRecord.objects.bulk_create(batch)
        if count == 0:
            raise ValueError(f"No OSV records found in {path}.")
        dataset.record_count = count
        dataset.error_count = len(errors)
        dataset.errors = errors[:KEPT_ERRORS]
        dataset.is_active = True
        dataset.save()
        AdvisoryDataset.objects.exclude(pk=dataset.pk).delete()
        changed = sorted(
            {osv_id for osv_id, digest in seen.items() if before.get(osv_id) != digest}
            | (before.keys() - seen.keys())
        )
        if changed:
            transaction.on_commit(lambda: _announce(changed))
    return SyncReport(dataset.pk, count, errors, changed)


def _digest(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _record_digests(dataset: AdvisoryDataset | None) -> dict[str, str]:
    """The digest of each record of ``dataset`` by OSV id: what a new load is compared with."""
    if dataset is None:
        return {}
    digests: dict[str, str] = {}
    rows = dataset.records.values_list("osv_id", "record").iterator(chunk_size=BATCH)
    for osv_id, record in rows:
        if osv_id not in digests:
            digests[osv_id] = _digest(record)
    return digests


def _announce(ids: list[str]) -> None:
    for receiver, result in advisories_changed.send_robust(sender=AdvisoryDataset, ids=ids):
        if isinstance(result, Exception):
            logger.error("a receiver of advisories_changed failed: %r", receiver, exc_info=result)


def active_dataset() -> AdvisoryDataset | None:
    return AdvisoryDataset.objects.filter(is_active=True).first()


def describe(dataset: AdvisoryDataset) -> str:
    loaded = dataset.loaded_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{dataset.source}, {dataset.record_count:,} records, loaded {loaded}"


def ensure_snapshot(directory: Path) -> Path | None:
    """The snapshot file of the active dataset, exported on first use; None without data."""
    from .snapshot import write_snapshot

    dataset = active_dataset()
    if dataset is None:
        return None
    path = directory / f"advisories-{dataset.pk}-{int(dataset.loaded_at.timestamp())}.sqlite3"
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
