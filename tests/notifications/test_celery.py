"""Webhooks in production mode: a real ``scanpulse worker`` (Celery, a private redis-server,
this run's test database) runs a scan, sends its event and retries it after a 500 through
the broker, signed with the secret the API showed."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from scanpulse.notifications.dispatch import reset_dispatcher
from scanpulse.scans.executor import reset_executor
from tests.notifications.conftest import validate
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support import brokers
from tests.support.repos import make_repo
from tests.support.services import redis_server
from tests.support.webhook_receiver import Receiver
from tests.support.workers import Worker

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[Worker]:
    with redis_server(tmp_path) as broker:
        started = Worker(
            broker,
            tmp_path,
            {
                "SCANPULSE_ENCRYPTION_KEYS": ",".join(settings.SCANPULSE_ENCRYPTION_KEYS),
                "SCANPULSE_GIT_ALLOWED_NETWORKS": "127.0.0.1/32",
                "SCANPULSE_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
            },
        )
        settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.celery.CeleryExecutor"
        settings.SCANPULSE_WEBHOOK_DISPATCHER = (
            "scanpulse.notifications.dispatchers.celery.CeleryDispatcher"
        )
        settings.SCANPULSE_CELERY_APP = "tests.support.brokers.app"
        settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        brokers.app = Celery("scanpulse-tests", broker=broker.url, set_as_current=False)
        brokers.app.config_from_object("django.conf:settings", namespace="CELERY")
        reset_executor()
        reset_dispatcher()
        try:
            yield started
        finally:
            started.stop()
            reset_executor()
            reset_dispatcher()
            brokers.app.close()
            brokers.app = None


def test_a_worker_delivers_a_scans_event_and_retries_it(tenant, worker, tmp_path) -> None:
    receiver = Receiver()
    try:
        receiver.answers = [500]
        created = tenant.client.post(
            f"/api/organizations/{tenant.org.id}/webhooks/",
            {"name": "ci", "url": receiver.url(), "events": ["scan.completed"]},
            format="json",
        )
        assert created.status_code == 201, created.json()
        secret = created.json()["secret"]
        repo = make_repo(tmp_path / "repo", {"README.md": "hello\n"})
        scan = start_scan(tenant, repo)
        assert wait_for_scan(scan["id"], timeout=60).status == "completed"

        first, second = receiver.wait_for(2, timeout=30)
    finally:
        receiver.stop()
    assert first.headers["X-Scanpulse-Delivery"] == second.headers["X-Scanpulse-Delivery"]
    assert second.at - first.at >= 0.45
    for got in (first, second):
        fields = dict(
            item.split("=", 1) for item in got.headers["X-Scanpulse-Signature"].split(",")
        )
        expected = hmac.new(
            secret.encode(), fields["t"].encode() + b"." + got.body, hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(expected, fields["v1"])
    payload = json.loads(second.body)
    validate(payload)
    assert payload["type"] == "scan.completed" and payload["data"]["scan"]["id"] == scan["id"]
    log = tenant.client.get(
        f"/api/organizations/{tenant.org.id}/webhooks/{created.json()['id']}/deliveries/"
    ).json()["results"]
    deadline = time.monotonic() + 10
    while log[0]["state"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.1)
        log = tenant.client.get(
            f"/api/organizations/{tenant.org.id}/webhooks/{created.json()['id']}/deliveries/"
        ).json()["results"]
    assert (log[0]["state"], log[0]["attempts"], log[0]["response_status"]) == ("delivered", 2, 200)
    assert secret not in worker.text()


def test_a_worker_matches_a_new_advisory_against_a_stored_inventory(
    tenant, worker, tmp_path
) -> None:
    """Production mode: the advisory load (here, in this process) sends the re-match to the
    workers as a Celery task; the worker opens the alert and delivers advisory.matched."""
    import shutil

    from scanpulse.advisories.store import sync_advisories
    from scanpulse.alerts.models import Alert
    from scanpulse.scans.models import Scan
    from tests.support.data import fixture_data

    receiver = Receiver()
    try:
        created = tenant.client.post(
            f"/api/organizations/{tenant.org.id}/webhooks/",
            {"name": "ci", "url": receiver.url(), "events": ["advisory.matched"]},
            format="json",
        )
        assert created.status_code == 201, created.json()
        osv = tmp_path / "osv"
        shutil.copytree(fixture_data("osv-pypa", "vulns", "django"), osv / "django")
        sync_advisories(osv, source="test")
        repo = make_repo(tmp_path / "repo", {"requirements.txt": "jinja2==2.10\n"})
        scan = start_scan(tenant, repo)
        assert wait_for_scan(scan["id"], timeout=60).status == "completed"
        assert not Alert.objects.filter(rule_id="SP-DEP-VULNERABLE").exists()

        shutil.copytree(fixture_data("osv-pypa", "vulns", "jinja2"), osv / "jinja2")
        sync_advisories(osv, source="test")

        [got] = receiver.wait_for(1, timeout=60)
    finally:
        receiver.stop()
    payload = json.loads(got.body)
    validate(payload)
    assert payload["type"] == "advisory.matched"
    assert payload["data"]["matches"][0]["package"] == "jinja2"
    alert = Alert.objects.get(rule_id="SP-DEP-VULNERABLE")
    assert alert.fingerprint == payload["data"]["matches"][0]["alert"]["fingerprint"]
    assert Scan.objects.count() == 1
    assert "rematch_advisories" in worker.text()
