"""Syncing the advisory data with the OSV feed: for each ecosystem, download its export if it
changed, verify it, and load the records that changed (``advisories.store.apply_feed``).

The same function serves the operator's ``scanpulse advisories sync``, production's beat task
(``.tasks``) and the embedded server's thread (``.runner``). One ecosystem's failure (the
host refused, a corrupt download) is recorded on its row and changes none of its data; the
others go on.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from scanpulse.advisories.export import ExportInvalid, read_export, verify_export
from scanpulse.advisories.models import FeedState
from scanpulse.advisories.store import FeedLoad, active_dataset, apply_feed, feed_checked
from scanpulse.core.exceptions import Invalid
from scanpulse.projects.validation import network_policy

from .download import FeedError, Outbound, export_url, fetch, shown_url

logger = logging.getLogger(__name__)

# progress(ecosystem, phase, done, total): phase is "download" (bytes), "verify" or "load"
# (records); total may be None (unknown length).
Progress = Callable[[str, str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class EcosystemResult:
    ecosystem: str
    url: str  # as shown
    outcome: str  # "unchanged", "updated" or "failed"
    load: FeedLoad | None = None
    error: str = ""
    downloaded: int = 0  # bytes transferred


def outbound() -> Outbound:
    return Outbound(
        policy=network_policy(),
        allow_http=settings.SCANPULSE_OSV_ALLOW_HTTP,
        ca_bundle=settings.SCANPULSE_OSV_CA_BUNDLE,
        timeout=settings.SCANPULSE_OSV_TIMEOUT_SECONDS,
        max_bytes=settings.SCANPULSE_OSV_MAX_BYTES,
    )


def configured_ecosystems() -> list[str]:
    return list(settings.SCANPULSE_OSV_ECOSYSTEMS)


def _chosen(ecosystems: list[str] | None) -> list[str]:
    configured = configured_ecosystems()
    if not ecosystems:
        return configured
    by_name = {name.lower(): name for name in configured}
    unknown = [name for name in ecosystems if name.lower() not in by_name]
    if unknown:
        message = (
            f"Unknown ecosystem {', '.join(unknown)}: choose from {', '.join(configured)} "
            "(SCANPULSE_OSV_ECOSYSTEMS)."
        )
        raise Invalid(message, fields={"ecosystem": [message]})
    return list(dict.fromkeys(by_name[name.lower()] for name in ecosystems))


def sync_feed(
    ecosystems: list[str] | None = None, *, progress: Progress | None = None
) -> list[EcosystemResult]:
    """Bring the chosen ecosystems (default: ``SCANPULSE_OSV_ECOSYSTEMS``) up to date."""
    chosen = _chosen(ecosystems)
    rules = outbound()
    work = Path(settings.SCANPULSE_WORK_DIR) / "feeds"
    work.mkdir(parents=True, exist_ok=True)
    return [_sync_one(ecosystem, rules, work, progress) for ecosystem in chosen]


def _sync_one(
    ecosystem: str, rules: Outbound, work: Path, progress: Progress | None
) -> EcosystemResult:
    url = export_url(settings.SCANPULSE_OSV_BASE_URL, ecosystem)
    shown = shown_url(url)
    state = FeedState.objects.filter(ecosystem=ecosystem).first()
    dataset = active_dataset()
    # Conditional only while the copy those validators describe is what is loaded.
    conditional = (
        state is not None and state.records > 0 and dataset is not None and dataset.is_feed
    )
    with tempfile.TemporaryDirectory(dir=work, prefix="osv-") as temporary:
        path = Path(temporary) / "all.zip"
        try:
            fetched = fetch(
                url,
                path,
                rules,
                etag=state.etag if conditional and state else "",
                last_modified=state.last_modified if conditional and state else "",
                progress=(
                    (lambda done, total: progress(ecosystem, "download", done, total))
                    if progress
                    else None
                ),
            )
            if not fetched.changed:
                feed_checked(ecosystem, url=shown)
                return EcosystemResult(ecosystem, shown, "unchanged")
            contents = verify_export(
                path,
                max_uncompressed=settings.SCANPULSE_OSV_MAX_UNCOMPRESSED_BYTES,
                progress=(
                    (lambda done, total: progress(ecosystem, "verify", done, total))
                    if progress
                    else None
                ),
            )
        except ExportInvalid as exc:
            error = (
                f"The download of {shown} is not a valid OSV export: {exc}. Nothing was changed."
            )
            return _failed(ecosystem, shown, error)
        except FeedError as exc:
            return _failed(ecosystem, shown, f"{exc} Nothing was changed.")
        load = apply_feed(
            ecosystem,
            url=shown,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            present=contents.records,
            read=lambda ids: read_export(path, contents, ids),
            errors=contents.errors,
            progress=((lambda done: progress(ecosystem, "load", done, None)) if progress else None),
        )
    logger.info(
        "advisory feed %s: %d records, %d added, %d modified, %d removed",
        ecosystem,
        load.records,
        len(load.added),
        len(load.modified),
        len(load.removed),
    )
    return EcosystemResult(ecosystem, shown, "updated", load, downloaded=fetched.size)


def _failed(ecosystem: str, shown: str, error: str) -> EcosystemResult:
    logger.warning("advisory feed %s: %s", ecosystem, error)
    feed_checked(ecosystem, url=shown, error=error)
    return EcosystemResult(ecosystem, shown, "failed", error=error)
