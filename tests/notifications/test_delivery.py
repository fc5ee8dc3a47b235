"""Deliveries to a real receiver on 127.0.0.1, attempted by the embedded (in-process)
dispatcher: signed with the secret shown once, bodies valid against the documented schema,
retries with growing delays under one delivery id, disabling a dead endpoint, the SSRF rules
at delivery time, the Slack format, the housekeeping sweep, and a real scan's events."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import itertools
import json
import logging
import socket
import threading
import time
from typing import Any

import pytest

from scanpulse.notifications import dispatch
from scanpulse.notifications.destinations import DESTINATION_REFUSED
from scanpulse.notifications.models import Delivery, Endpoint
from scanpulse.pipeline import locations
from scanpulse.projects.models import Project
from scanpulse.scans.housekeeping import run_housekeeping
from scanpulse.scans.models import Scan
from scanpulse.scans.services import scan_finish
from tests.notifications.conftest import validate
from tests.scans.conftest import CLEAR_SECRETS, start_scan, wait_for_scan
from tests.support.repos import VULNERABLE_APP, make_repo
from tests.support.services import free_port
from tests.support.webhook_receiver import Received

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_settings")]


def create(tenant: Any, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    response = tenant.client.post(
        f"/api/organizations/{tenant.org.id}/webhooks/",
        {"name": "receiver", "url": url, "events": events, **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def route(tenant: Any, webhook: dict[str, Any], tail: str = "") -> str:
    return f"/api/organizations/{tenant.org.id}/webhooks/{webhook['id']}/{tail}"


def verified(received: Received, secret: str) -> bool:
    """What a receiver does, as docs/integrations.md shows it."""
    fields = dict(
        item.split("=", 1) for item in received.headers["X-Scanpulse-Signature"].split(",")
    )
    signed = fields["t"].encode() + b"." + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) < 300
    return fresh and hmac.compare_digest(expected, fields["v1"])


def wait_for_delivery(delivery_id: Any, done: Any, timeout: float = 20) -> Delivery:
    deadline = time.monotonic() + timeout
    while True:
        delivery = Delivery.objects.get(pk=delivery_id)
        if done(delivery):
            return delivery
        assert time.monotonic() < deadline, (delivery.state, delivery.attempts, delivery.error)
        time.sleep(0.02)


def failed_scan(tenant: Any, tmp_path: Any) -> Scan:
    """A scan that really ends failed through the scans' own service."""
    project = Project.objects.get_or_create(
        organization=tenant.org, name="app", defaults={"repo_url": str(tmp_path)}
    )[0]
    scan = Scan.objects.create(project=project, organization=tenant.org, ref="main")
    assert scan_finish(
        scan_id=scan.id, status="failed", message="The repository could not be fetched."
    )
    return scan


def test_a_test_ping_is_signed_with_the_shown_secret_and_follows_the_schema(
    tenant, receiver, loopback_allowed
) -> None:
    webhook = create(tenant, receiver.url(), ["scan.completed"])
    answer = tenant.client.post(route(tenant, webhook, "test"))
    assert answer.status_code == 202

    [got] = receiver.wait_for(1)
    assert got.path == "/hooks/scanpulse"
    assert got.headers["X-Scanpulse-Event"] == "ping"
    assert got.headers["X-Scanpulse-Delivery"] == answer.json()["id"]
    assert got.headers["Content-Type"] == "application/json"
    assert verified(got, webhook["secret"])
    assert not verified(got, webhook["secret"] + "x")
    payload = json.loads(got.body)
    validate(payload)
    assert payload["type"] == "ping" and payload["organization"]["id"] == str(tenant.org.id)
    assert webhook["secret"] not in got.body.decode()

    delivered = wait_for_delivery(answer.json()["id"], lambda d: d.state == "delivered")
    log = tenant.client.get(route(tenant, webhook, "deliveries/")).json()["results"]
    assert log[0]["id"] == str(delivered.id)
    assert (log[0]["state"], log[0]["response_status"], log[0]["attempts"]) == ("delivered", 200, 1)
    assert log[0]["response_body"] == "answered 200"
    assert log[0]["duration_ms"] is not None and log[0]["error"] is None
    assert webhook["secret"] not in json.dumps(log)


def test_failed_attempts_are_retried_later_and_later_under_one_delivery_id(
    tenant, receiver, loopback_allowed, webhook_settings, tmp_path
) -> None:
    webhook_settings.SCANPULSE_WEBHOOK_DISABLE_AFTER = 10
    receiver.answers = [500, 500, 500]
    webhook = create(tenant, receiver.url(), ["scan.failed"])
    scan = failed_scan(tenant, tmp_path)

    attempts = receiver.wait_for(4)
    assert {got.headers["X-Scanpulse-Delivery"] for got in attempts} == {
        attempts[0].headers["X-Scanpulse-Delivery"]
    }
    assert [got.headers["X-Scanpulse-Attempt"] for got in attempts] == ["1", "2", "3", "4"]
    assert all(verified(got, webhook["secret"]) for got in attempts)
    assert len({got.body for got in attempts}) == 1  # the same bytes every time
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    # 0.2 s, then 0.4 s, then 0.8 s (SCANPULSE_WEBHOOK_RETRY_BASE_SECONDS doubled each time)
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38 and gaps[2] >= 0.78, gaps
    assert gaps[2] > gaps[0] + 0.3, gaps
    payload = json.loads(attempts[0].body)
    validate(payload)
    assert payload["type"] == "scan.failed" and payload["data"]["scan"]["id"] == str(scan.id)
    assert payload["data"]["gate"]["passed"] is False

    delivery = wait_for_delivery(
        attempts[0].headers["X-Scanpulse-Delivery"], lambda d: d.state == "delivered"
    )
    assert delivery.attempts == 4 and delivery.response_status == 200
    assert Endpoint.objects.get(pk=webhook["id"]).consecutive_failures == 0


def test_a_delivery_out_of_attempts_fails_and_can_be_redelivered(
    tenant, receiver, loopback_allowed, webhook_settings, tmp_path
) -> None:
    webhook_settings.SCANPULSE_WEBHOOK_DISABLE_AFTER = 10
    webhook_settings.SCANPULSE_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [503, 503]
    webhook = create(tenant, receiver.url(), ["scan.failed"])
    failed_scan(tenant, tmp_path)
    first = receiver.wait_for(2)
    delivery = wait_for_delivery(
        first[0].headers["X-Scanpulse-Delivery"], lambda d: d.state == "failed"
    )
    shown = tenant.client.get(route(tenant, webhook, f"deliveries/{delivery.id}/")).json()
    assert (shown["attempts"], shown["response_status"], shown["next_attempt_at"]) == (2, 503, None)
    assert shown["error"] == "The receiver answered 503."

    again = tenant.client.post(route(tenant, webhook, f"deliveries/{delivery.id}/redeliver"))
    assert again.status_code == 202
    third = receiver.wait_for(3)[2]
    assert third.headers["X-Scanpulse-Delivery"] == again.json()["id"] != str(delivery.id)
    assert json.loads(third.body)["id"] == json.loads(first[0].body)["id"]  # the same event
    assert third.body == first[0].body
    wait_for_delivery(again.json()["id"], lambda d: d.state == "delivered")


def test_a_dead_endpoint_is_disabled_after_failing_in_a_row(
    tenant, loopback_allowed, tmp_path, caplog
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/gone"  # nothing listens there
    webhook = create(tenant, dead, ["scan.failed"])
    with caplog.at_level(logging.WARNING, logger="scanpulse.notifications"):
        failed_scan(tenant, tmp_path)
        [delivery] = Delivery.objects.all()
        delivery = wait_for_delivery(delivery.id, lambda d: d.state == "failed")
    assert delivery.attempts == 3  # SCANPULSE_WEBHOOK_DISABLE_AFTER, before the 4 allowed
    assert delivery.error == "Connection refused." and delivery.response_status is None

    shown = tenant.client.get(route(tenant, webhook)).json()
    assert shown["enabled"] is False and shown["disabled_at"] is not None
    assert shown["disabled_reason"] == (
        "Disabled after 3 failed deliveries in a row (the last: Connection refused.)"
    )
    assert f"webhook endpoint {webhook['id']}" in caplog.text and "disabled" in caplog.text

    failed_scan(tenant, tmp_path)  # a disabled endpoint gets no new deliveries
    assert Delivery.objects.count() == 1

    enabled = tenant.client.patch(route(tenant, webhook), {"enabled": True}, format="json")
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None
    assert enabled.json()["consecutive_failures"] == 0


def test_a_destination_no_longer_allowed_is_refused_when_delivering(
    tenant, receiver, settings
) -> None:
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    webhook = create(tenant, receiver.url(host="localhost"), ["scan.failed"])
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = []  # the operator took it back
    answer = tenant.client.post(route(tenant, webhook, "test"))
    delivery = wait_for_delivery(
        answer.json()["id"], lambda d: d.attempts >= 1 and not d.claimed_until
    )
    assert delivery.error == DESTINATION_REFUSED and delivery.response_status is None
    time.sleep(0.3)
    assert receiver.received == []


def test_a_name_rebound_to_loopback_after_creation_is_refused(
    tenant, receiver, monkeypatch
) -> None:
    host = "hooks.rebinding.test"
    monkeypatch.setattr(
        locations, "resolve", lambda name, port: (ipaddress.ip_address("93.184.216.34"),)
    )
    webhook = create(tenant, receiver.url(host=host), ["scan.failed"])  # public when saved
    monkeypatch.setattr(
        locations, "resolve", lambda name, port: (ipaddress.ip_address("127.0.0.1"),)
    )
    answer = tenant.client.post(route(tenant, webhook, "test"))
    delivery = wait_for_delivery(
        answer.json()["id"], lambda d: d.attempts >= 1 and not d.claimed_until
    )
    assert delivery.error == DESTINATION_REFUSED
    time.sleep(0.3)
    assert receiver.received == []


def test_the_connection_goes_to_the_checked_address(
    tenant, receiver, settings, monkeypatch
) -> None:
    # The system resolver knows nothing of this name: only the checked address can be reached.
    settings.SCANPULSE_GIT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    host = "hooks.pinned.test"
    monkeypatch.setattr(
        locations, "resolve", lambda name, port: (ipaddress.ip_address("127.0.0.1"),)
    )
    webhook = create(tenant, receiver.url(host=host), ["scan.failed"])
    tenant.client.post(route(tenant, webhook, "test"))
    [got] = receiver.wait_for(1)
    assert got.headers["Host"] == f"{host}:{receiver.port}"
    assert verified(got, webhook["secret"])


def test_redirects_are_not_followed(tenant, receiver, loopback_allowed) -> None:
    receiver.answers = [302]
    webhook = create(tenant, receiver.url(), ["scan.failed"])
    answer = tenant.client.post(route(tenant, webhook, "test"))
    delivery = wait_for_delivery(
        answer.json()["id"], lambda d: d.attempts >= 1 and not d.claimed_until
    )
    assert delivery.response_status == 302
    assert delivery.error.startswith("Redirect (302) not followed")


def test_the_slack_format(tenant, receiver, loopback_allowed, tmp_path) -> None:
    webhook = create(tenant, receiver.url(), ["scan.failed"], format="slack")
    failed_scan(tenant, tmp_path)
    [got] = receiver.wait_for(1)
    assert verified(got, webhook["secret"])
    body = json.loads(got.body)
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "Scan of app (main) failed."
    assert [block["type"] for block in body["blocks"]] == ["section", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "mrkdwn", "text": body["text"]}
    assert "The repository could not be fetched." in body["blocks"][1]["text"]["text"]
    assert body["blocks"][2]["elements"][0]["text"] == "scan.failed · acme"


def test_housekeeping_delivers_what_a_lost_message_left_due(
    tenant, receiver, loopback_allowed, webhook_settings, tmp_path, monkeypatch
) -> None:
    webhook_settings.SCANPULSE_WEBHOOK_SWEEP_GRACE_SECONDS = 0
    create(tenant, receiver.url(), ["scan.failed"])
    lost = dispatch.get_dispatcher()
    with monkeypatch.context() as patch:
        patch.setattr(lost, "submit", lambda delivery_id, delay=0.0: None)
        failed_scan(tenant, tmp_path)
    [delivery] = Delivery.objects.all()
    time.sleep(0.2)
    assert receiver.received == [] and delivery.state == "pending"

    run_housekeeping()

    [got] = receiver.wait_for(1)
    assert got.headers["X-Scanpulse-Delivery"] == str(delivery.id)
    wait_for_delivery(delivery.id, lambda d: d.state == "delivered")


def test_a_real_scan_sends_its_events_without_secrets(
    tenant, receiver, loopback_allowed, tmp_path, settings
) -> None:
    settings.SCANPULSE_SCAN_EXECUTOR = "scanpulse.scans.executors.inprocess.InProcessExecutor"
    webhook = create(
        tenant,
        receiver.url(),
        ["scan.completed", "gate.failed", "alert.new"],
        min_severity="medium",
    )
    repo = make_repo(tmp_path / "repo", {"app.py": VULNERABLE_APP})
    project = Project.objects.create(organization=tenant.org, name="app", repo_url=str(repo))
    project.gate_policy = {"no_secrets": True}
    project.save()
    scan = start_scan(tenant, repo)
    assert wait_for_scan(scan["id"]).status == "completed"

    got = {item.headers["X-Scanpulse-Event"]: item for item in receiver.wait_for(3)}
    assert set(got) == {"scan.completed", "gate.failed", "alert.new"}
    for item in got.values():
        assert verified(item, webhook["secret"])
        validate(json.loads(item.body))
        for secret in CLEAR_SECRETS:
            assert secret not in item.body.decode()
    completed = json.loads(got["scan.completed"].body)["data"]
    assert completed["scan"]["id"] == scan["id"] and completed["scan"]["status"] == "completed"
    assert completed["gate"]["passed"] is False
    gate = json.loads(got["gate.failed"].body)["data"]["gate"]
    assert any("secret" in reason for reason in gate["reasons"])
    alerts = json.loads(got["alert.new"].body)["data"]
    assert alerts["minimum_severity"] == "medium" and alerts["total"] == len(alerts["alerts"])
    assert {alert["severity"] for alert in alerts["alerts"]} <= {"critical", "high", "medium"}
    assert "secrets" in {alert["tool"] for alert in alerts["alerts"]}
    for row in Delivery.objects.values_list("body", "response_body", "error"):
        assert not any(secret in " ".join(row) for secret in CLEAR_SECRETS)


def test_secrets_no_key_opens_fail_the_attempt_without_sending(
    tenant, receiver, loopback_allowed, settings
) -> None:
    from cryptography.fernet import Fernet

    from scanpulse.core.crypto import sealed_columns
    from scanpulse.notifications.delivery import UNSEALABLE

    assert {(column.model, column.field) for column in sealed_columns()} >= {
        ("notifications.Endpoint", "url_sealed"),
        ("notifications.Endpoint", "secret_sealed"),
    }
    webhook = create(tenant, receiver.url(), ["scan.failed"])
    settings.SCANPULSE_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key dropped
    answer = tenant.client.post(route(tenant, webhook, "test"))
    delivery = wait_for_delivery(
        answer.json()["id"], lambda d: d.attempts >= 1 and not d.claimed_until
    )
    assert delivery.error == UNSEALABLE
    time.sleep(0.3)
    assert receiver.received == []


def test_a_receiver_trickling_its_answer_is_cut_off(
    tenant, loopback_allowed, webhook_settings
) -> None:
    webhook_settings.SCANPULSE_WEBHOOK_TIMEOUT_SECONDS = 0.5  # the attempt: 1 s in all
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = server.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 200:  # a byte every 0.1 s
                if stop.wait(0.1):
                    return
                with contextlib.suppress(OSError):
                    connection.sendall(bytes([byte]))

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        webhook = create(tenant, f"http://127.0.0.1:{port}/slow", ["scan.failed"])
        answer = tenant.client.post(route(tenant, webhook, "test"))
        delivery = wait_for_delivery(
            answer.json()["id"], lambda d: d.attempts >= 1 and not d.claimed_until, timeout=10
        )
    finally:
        stop.set()
        server.close()
        thread.join(5)
    assert delivery.error == "Timed out." and delivery.response_status is None
    assert 900 <= delivery.duration_ms < 3000
