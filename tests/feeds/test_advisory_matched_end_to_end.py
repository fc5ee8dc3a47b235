"""From the feed to the people, end to end: a local HTTPS server publishes a new npm advisory
in its OSV export; one run of the feed sync (the path the operator's command, beat and the
embedded server take) re-matches the stored inventory of a project scanned before, and without
a new scan the project has a new open alert, the organization's stream (a real server process,
subscribed to over HTTP, behind a real Redis) carries the event, and ``advisory.matched`` is
delivered to a real receiver on 127.0.0.1 with a valid signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanpulse.alerts.models import Alert, AlertState
from scanpulse.feeds.services import sync_feed
from scanpulse.scans.models import AdvisoryMatch, InventoryItem, Scan
from tests.notifications.conftest import (
    validate,
    webhook_settings,  # noqa: F401  (a fixture)
)
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.osv_feed import FeedServer, export_zip
from tests.support.repos import make_repo
from tests.support.services import ServerFactory
from tests.support.sse import ParsedEvent, StreamReader
from tests.support.webhook_receiver import Receiver

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.services,
    pytest.mark.usefixtures("webhook_settings"),
]

PACKAGE_JSON = json.dumps(
    {"name": "shop", "version": "1.0.0", "dependencies": {"left-pad": "^1.2.0"}}
)
PACKAGE_LOCK = json.dumps(
    {
        "name": "shop",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "shop", "version": "1.0.0", "dependencies": {"left-pad": "^1.2.0"}},
            "node_modules/left-pad": {
                "version": "1.2.0",
                "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.2.0.tgz",
            },
        },
    }
)

NEW_ADVISORY = {
    "schema_version": "1.6.0",
    "id": "GHSA-lp00-e2e0-0001",
    "summary": "left-pad pads with the wrong character",
    "published": "2026-12-06T09:00:00Z",
    "modified": "2026-12-06T09:00:00Z",
    "database_specific": {"severity": "HIGH"},
    "affected": [
        {
            "package": {"ecosystem": "npm", "name": "left-pad"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}],
        }
    ],
}


def _wait_until(condition: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def _signed(body: bytes, header: str, secret: str) -> bool:
    """What a receiver does, as docs/integrations.md shows it."""
    fields = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return abs(time.time() - int(fields["t"])) < 300 and hmac.compare_digest(expected, fields["v1"])


class _Subscriber(threading.Thread):
    """Reads the organization's stream of a server process until an ``advisory`` event."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.snapshot = threading.Event()
        self.events: list[ParsedEvent] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(90, connect=5)) as client,
                client.stream(
                    "GET", self.url, headers={"Authorization": f"Bearer {self.token}"}
                ) as response,
            ):
                assert response.status_code == 200, response.status_code
                reader = StreamReader(response)
                while (event := reader.next_event()) is not None:
                    self.events.append(event)
                    if event.type == "snapshot":
                        self.snapshot.set()
                    elif json.loads(event.data).get("kind") == "advisory":
                        return
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.snapshot.set()


def test_one_feed_sync_alerts_streams_and_sends_a_new_advisory_without_a_scan(
    tenant, tmp_path: Path, settings: Any, redis_bus: Any
) -> None:
    receiver = Receiver()
    (tmp_path / "feed").mkdir()
    (tmp_path / "web").mkdir()
    try:
        with FeedServer(tmp_path / "feed") as feed, ServerFactory(tmp_path / "web") as servers:
            _end_to_end(tenant, tmp_path, settings, redis_bus, receiver, feed, servers)
    finally:
        receiver.stop()


def _end_to_end(
    tenant: Any,
    tmp_path: Path,
    settings: Any,
    redis_bus: Any,
    receiver: Receiver,
    feed: FeedServer,
    servers: ServerFactory,
) -> None:
    settings.SCANPULSE_OSV_BASE_URL = feed.base_url
    settings.SCANPULSE_OSV_CA_BUNDLE = str(feed.cert_path)
    settings.SCANPULSE_OSV_ECOSYSTEMS = ["npm"]
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the feed and the receiver
    settings.SCANPULSE_WORK_DIR = tmp_path / "work"
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"

    # The web process whose organization stream is subscribed to (behind the test's Redis, on
    # which this process, like a worker, publishes).
    server = servers(REDIS_URL=redis_bus.url, SCANPULSE_STREAM_LEASE_SECONDS="2")

    # The feed holds nothing about left-pad yet; the project's scan stores its inventory.
    other = dict(NEW_ADVISORY, id="GHSA-othr-e2e0-0002")
    other["affected"] = [
        {
            "package": {"ecosystem": "npm", "name": "right-pad"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        }
    ]
    feed.put("npm", export_zip({other["id"]: other}))
    [first] = sync_feed()
    assert first.outcome == "updated"
    repo = make_repo(
        tmp_path / "repo", {"package.json": PACKAGE_JSON, "package-lock.json": PACKAGE_LOCK}
    )
    done = wait_for_scan(start_scan(tenant, repo, name="shop")["id"])
    assert done.status == "completed"
    assert {
        (item.ecosystem, item.name, item.version, item.path)
        for item in InventoryItem.objects.filter(scan=done)
    } == {("npm", "left-pad", "1.2.0", "package-lock.json")}
    assert not Alert.objects.filter(project_id=done.project_id).exists()

    webhook = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/",
        {"name": "security", "url": receiver.url(), "events": ["advisory.matched"]},
        format="json",
    )
    assert webhook.status_code == 201, webhook.json()
    secret = webhook.json()["secret"]

    subscriber = _Subscriber(f"{server.url}/api/stream?organization={tenant.org.id}", tenant.token)
    subscriber.start()
    assert subscriber.snapshot.wait(30) and subscriber.error is None, subscriber.error

    # The advisory is published; one sync run, and nothing else.
    feed.put("npm", export_zip({other["id"]: other, NEW_ADVISORY["id"]: NEW_ADVISORY}))
    started = time.monotonic()
    [synced] = sync_feed()
    assert synced.outcome == "updated" and synced.load is not None
    assert synced.load.added == [NEW_ADVISORY["id"]]

    alert = _wait_until(
        lambda: Alert.objects.filter(
            project_id=done.project_id, rule_id="SP-DEP-VULNERABLE"
        ).first()
    )
    assert alert.state == AlertState.OPEN and alert.path == "package-lock.json"
    assert "left-pad" in alert.message
    matches = AdvisoryMatch.objects.filter(fingerprint=alert.fingerprint)
    assert {m.osv_id for m in matches} == {NEW_ADVISORY["id"]}
    assert all(m.found_by_update for m in matches)

    subscriber.join(60)
    assert subscriber.error is None, subscriber.error
    assert not subscriber.is_alive(), "no advisory event on the organization stream"
    streamed = json.loads(subscriber.events[-1].data)
    assert streamed["kind"] == "advisory" and streamed["scan"] == str(done.id)
    assert streamed["data"]["matches"][0]["package"] == "left-pad"

    [delivery] = receiver.wait_for(1, timeout=60)
    assert time.monotonic() - started < 60
    assert _signed(delivery.body, delivery.headers["X-Scanpulse-Signature"], secret)
    payload = json.loads(delivery.body)
    validate(payload)
    assert payload["type"] == "advisory.matched"
    [match] = payload["data"]["matches"]
    assert (match["package"], match["version"]) == ("left-pad", "1.2.0")
    assert [advisory["id"] for advisory in match["advisories"]] == [NEW_ADVISORY["id"]]
    assert match["alert"]["fingerprint"] == alert.fingerprint

    # No scan was started for it.
    assert Scan.objects.count() == 1
