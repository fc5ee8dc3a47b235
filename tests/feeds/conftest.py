"""A local HTTPS feed serving exports of the fixture set's records, and the settings that
point the sync at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanpulse.advisories.signals import advisories_changed
from scanpulse.feeds.services import EcosystemResult, sync_feed
from tests.support.osv_feed import FeedServer, export_zip, fixture_records


@pytest.fixture
def go_records() -> dict[str, dict[str, Any]]:
    return fixture_records("osv-go")


@pytest.fixture
def npm_records() -> dict[str, dict[str, Any]]:
    return fixture_records("osv-ghsa-sample/npm")


@pytest.fixture
def feed(tmp_path: Path, go_records: dict, npm_records: dict) -> Iterator[FeedServer]:
    with FeedServer(tmp_path) as server:
        server.put("Go", export_zip(go_records))
        server.put("npm", export_zip(npm_records))
        yield server


@pytest.fixture
def feed_settings(settings: Any, feed: FeedServer, tmp_path: Path) -> Any:
    settings.SCANPULSE_OSV_BASE_URL = feed.base_url
    settings.SCANPULSE_OSV_CA_BUNDLE = str(feed.cert_path)
    settings.SCANPULSE_OSV_ECOSYSTEMS = ["Go", "npm"]
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.SCANPULSE_WORK_DIR = tmp_path / "work"
    return settings


@pytest.fixture
def sync(feed_settings: Any, django_capture_on_commit_callbacks: Any) -> Callable[..., Synced]:
    """Runs the feed sync as the operator's command and beat do; returns its results and the
    ``ids`` of every ``advisories_changed`` it sent once its transactions committed."""

    def run(*ecosystems: str) -> Synced:
        received: list[list[str]] = []

        def receiver(sender: Any, ids: list[str], **kwargs: Any) -> None:
            received.append(ids)

        advisories_changed.connect(receiver, weak=False)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                results = sync_feed(list(ecosystems) or None)
        finally:
            advisories_changed.disconnect(receiver)
        return Synced({result.ecosystem: result for result in results}, received)

    return run


@dataclass
class Synced:
    results: dict[str, EcosystemResult]
    announced: list[list[str]]
