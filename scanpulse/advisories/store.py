"""Loading OSV advisories into the database, and handing them to analyzer processes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from .models import AdvisoryDataset, AdvisoryRecord
from .osv import iter_records, normalize_name

BATCH = 2000
KEPT_ERRORS = 100


@dataclass(frozen=True, slots=True)
class SyncReport:
    dataset_id: int
    records: int
    errors: list[str]


def sync_advisories(path: Path | str, *, source: str | None = None) -> SyncReport:
    """Load every record under ``path`` (a directory of YAML/JSON files, or an OSV ``all.zip``)
    and make it the active dataset. The previous data stays active until the new load has
    committed, so scans never see a half-loaded database."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {path}")
    errors: list[str] = []
    with transaction.atomic():
        dataset = AdvisoryDataset.objects.create(
            source=source or str(path.resolve()), loaded_at=timezone.now()
        )
        batch: list[AdvisoryRecord] = []
        count = 0
        for advisory in iter_records(path, errors):
            count += 1
            record = advisory.to_dict()
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
    return SyncReport(dataset.pk, count, errors)


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
