"""The embedded shape for real: a ``scanpulse serve`` process syncs the feed in the
background once it listens, without delaying its start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.osv_feed import FeedServer, export_zip, fixture_records
from tests.support.services import ServerFactory

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    with ServerFactory(tmp_path) as start:
        yield start


def test_the_embedded_server_syncs_the_feed_on_start(servers, tenant, tmp_path) -> None:
    records = fixture_records("osv-go")
    with FeedServer(tmp_path) as feed:
        feed.put("Go", export_zip(records))
        server = servers(
            SCANPULSE_OSV_BASE_URL=feed.base_url,
            SCANPULSE_OSV_CA_BUNDLE=str(feed.cert_path),
            SCANPULSE_OSV_ECOSYSTEMS="Go",
            SCANPULSE_OSV_SYNC_INTERVAL_HOURS="24",
            SCANPULSE_GIT_ALLOWED_NETWORKS="127.0.0.1/32",
        )
        headers = {"Authorization": f"Bearer {tenant.token}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = httpx.get(f"{server.url}/api/advisories/", headers=headers, timeout=10).json()
            if body["ecosystems"][0]["records"]:
                break
            time.sleep(0.2)
        assert body["ecosystems"][0]["records"] == len(records)
        assert body["ecosystems"][0]["source_url"] == f"{feed.base_url}/Go/all.zip"
        assert body["dataset"]["records"] == len(records)
        assert body["sync_interval_hours"] == 24
        assert [(seen.path, seen.status) for seen in feed.requests] == [("/Go/all.zip", 200)]
