"""Monitoring without re-scans: a completed scan stores its dependency inventory; an advisory
load that changes records matches the latest inventory of every project and ref again (in the
background), opens alerts "found by advisory update", writes an event on the organization's
stream, sends ``advisory.matched`` to a real receiver on 127.0.0.1, and starts no scan; a
withdrawn advisory closes its alert."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from scanpulse.advisories.store import sync_advisories
from scanpulse.alerts.models import Alert, AlertState
from scanpulse.scans.log import read_org_events
from scanpulse.scans.models import AdvisoryMatch, InventoryItem, Scan
from tests.notifications.conftest import (
    validate,
    webhook_settings,  # noqa: F401  (a fixture)
)
from tests.scans.conftest import start_scan, wait_for_scan
from tests.support.data import fixture_data
from tests.support.repos import make_repo
from tests.support.webhook_receiver import Receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]

REQUIREMENTS = "django==3.2.0\njinja2==2.10\nrequests>=2\n"


def records(target: Path, *packages: str) -> Path:
    """A directory of real PyPA records of ``packages``."""
    source = fixture_data("osv-pypa", "vulns")
    target.mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copytree(source / package, target / package, dirs_exist_ok=True)
    return target


def withdraw(directory: Path, package: str) -> list[str]:
    """Mark every record of ``package`` withdrawn, as OSV does; returns their ids."""
    ids = []
    for path in sorted((directory / package).glob("*.yaml")):
        record = yaml.safe_load(path.read_text())
        record["withdrawn"] = "2026-12-01T00:00:00Z"
        record["modified"] = "2026-12-01T00:00:00Z"
        path.write_text(yaml.safe_dump(record))
        ids.append(record["id"])
    return ids


def listing(package: str, version: str) -> set[str]:
    """The ids of the package's records whose ``versions`` list ``version`` (every PyPA record
    lists the affected versions explicitly): an evaluation independent of scanpulse's."""
    found = set()
    for path in (fixture_data("osv-pypa", "vulns") / package).glob("*.yaml"):
        record = yaml.safe_load(path.read_text())
        if any(version in entry.get("versions", []) for entry in record["affected"]):
            found.add(record["id"])
    return found


def signed_in(tenant: Any) -> Client:
    browser = Client()
    assert browser.login(username=tenant.user.username, password="a-long-test-password")
    return browser


def wait_until(condition: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def jinja_alert(project_id: Any) -> Alert | None:
    return Alert.objects.filter(
        project_id=project_id, rule_id="SP-DEP-VULNERABLE", message__contains="jinja2"
    ).first()


def test_a_new_advisory_opens_an_alert_streams_and_sends_it_without_a_scan(
    tenant, tmp_path, settings
) -> None:
    receiver = Receiver()
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the receiver's address
    try:
        _new_advisory(tenant, receiver, tmp_path, settings)
    finally:
        receiver.stop()


def _new_advisory(tenant: Any, receiver: Receiver, tmp_path: Path, settings: Any) -> None:
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    response = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/",
        {"name": "r", "url": receiver.url(), "events": ["advisory.matched"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    sync_advisories(records(tmp_path / "osv", "django"), source="test")
    repo = make_repo(tmp_path / "repo", {"requirements.txt": REQUIREMENTS})
    scan = start_scan(tenant, repo)
    done = wait_for_scan(scan["id"])
    assert done.status == "completed"

    # The inventory: every pinned package, with its manifest and whether it is direct.
    stored = {
        (item.ecosystem, item.name, item.version, item.path, item.direct)
        for item in InventoryItem.objects.filter(scan=done)
    }
    assert stored == {
        ("PyPI", "django", "3.2.0", "requirements.txt", True),
        ("PyPI", "jinja2", "2.10", "requirements.txt", True),
    }
    assert jinja_alert(done.project_id) is None
    django_alerts = Alert.objects.filter(project_id=done.project_id).count()
    assert Alert.objects.filter(project_id=done.project_id, message__contains="django").count() == 1
    org_seq = tenant.org.__class__.objects.get(pk=tenant.org.pk).last_event_seq

    # jinja2's advisories are published: the load changes only those records.
    started = time.monotonic()
    report = sync_advisories(records(tmp_path / "osv", "django", "jinja2"), source="test")
    assert report.changed_ids and all(osv_id.startswith("PYSEC") for osv_id in report.changed_ids)
    alert = wait_until(lambda: jinja_alert(done.project_id))
    assert alert.state == AlertState.OPEN and alert.path == "requirements.txt"
    assert alert.first_seen_scan == done.id
    matched = AdvisoryMatch.objects.filter(fingerprint=alert.fingerprint)
    assert {match.osv_id for match in matched} == listing("jinja2", "2.10")
    assert all(match.found_by_update and match.advisory_date for match in matched)

    [delivery] = receiver.wait_for(1, timeout=60)
    assert time.monotonic() - started < 60
    payload = json.loads(delivery.body)
    validate(payload)
    assert payload["type"] == "advisory.matched"
    [match] = payload["data"]["matches"]
    assert match["package"] == "jinja2" and match["version"] == "2.10"
    assert match["alert"]["fingerprint"] == alert.fingerprint
    assert {advisory["id"] for advisory in match["advisories"]} == listing("jinja2", "2.10")
    assert all(advisory["published"] for advisory in match["advisories"])

    # The pages say so, with the advisory's date.
    browser = signed_in(tenant)
    listed = browser.get(f"/projects/{done.project_id}/").content.decode()
    page = browser.get(f"/projects/{done.project_id}/alerts/{alert.id}/").content.decode()
    newest = AdvisoryMatch.objects.filter(fingerprint=alert.fingerprint).first()
    assert newest is not None
    for html in (listed, page):
        assert "found by advisory update" in html.lower()
        assert newest.advisory_date[:10] in html

    events = read_org_events(org_id=tenant.org.pk, after=org_seq)
    [event] = [event for event in events if event.kind == "advisory"]
    assert event.scan_id == str(done.id)
    assert event.data["matches"][0]["package"] == "jinja2"
    # No scan ran; django's alert is untouched.
    assert Scan.objects.count() == 1
    assert Alert.objects.filter(project_id=done.project_id).count() == django_alerts + 1

    # A later scan of the same commit recognises the alert: the same fingerprint, still open.
    again = start_scan(tenant, repo)
    assert wait_for_scan(again["id"]).status == "completed"
    alert.refresh_from_db()
    assert (
        alert.state == AlertState.OPEN
        and alert.last_seen_scan == Scan.objects.get(pk=again["id"]).id
    )
    assert Alert.objects.filter(project_id=done.project_id).count() == django_alerts + 1


def test_a_withdrawn_advisory_fixes_its_alert(tenant, tmp_path, settings) -> None:
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    directory = records(tmp_path / "osv", "django", "jinja2")
    sync_advisories(directory, source="test")
    repo = make_repo(tmp_path / "repo", {"requirements.txt": REQUIREMENTS})
    scan = start_scan(tenant, repo)
    done = wait_for_scan(scan["id"])
    alert = jinja_alert(done.project_id)
    assert alert is not None and alert.state == AlertState.OPEN

    withdrawn = withdraw(directory, "jinja2")
    report = sync_advisories(directory, source="test")
    assert set(report.changed_ids) == set(withdrawn)

    def fixed() -> bool:
        alert.refresh_from_db()
        return alert.state == AlertState.FIXED

    wait_until(fixed)
    assert alert.fixed_in_scan is None
    assert AdvisoryMatch.objects.filter(
        fingerprint=alert.fingerprint, withdrawn_at__isnull=False
    ).exists()
    page = signed_in(tenant).get(f"/projects/{done.project_id}/alerts/{alert.id}/")
    assert "advisory withdrawn" in page.content.decode()
    # django's advisories were not withdrawn: its alert stays open; no scan ran.
    django = Alert.objects.get(project_id=done.project_id, message__contains="django")
    assert django.state == AlertState.OPEN
    assert Scan.objects.count() == 1


def test_the_slack_format_of_an_advisory_match_names_the_package_and_advisories() -> None:
    from scanpulse.notifications.formatters import as_slack

    payload = {
        "type": "advisory.matched",
        "organization": {"id": "o", "name": "acme"},
        "data": {
            "scan": {
                "project": {"id": "p", "name": "web"},
                "ref": "main",
                "id": "s",
                "status": "completed",
                "findings_count": 1,
                "commit_sha": None,
                "message": "",
            },
            "found_by": "advisory_update",
            "minimum_severity": "low",
            "total": 1,
            "matches": [
                {
                    "alert": {"severity": "high"},
                    "package": "jinja2",
                    "version": "2.10",
                    "manifest": "requirements.txt",
                    "advisories": [{"id": "PYSEC-2019-217"}],
                }
            ],
        },
    }
    message = as_slack(payload)
    assert message["text"] == "Advisory update: 1 dependency of web (main) newly affected."
    details = json.dumps(message["blocks"])
    assert "jinja2" in details and "PYSEC-2019-217" in details and "requirements.txt" in details
