"""Triage through the API: dismissing with a reason, accepted risks that expire, bulk triage
that applies all or nothing, and the history of who did what."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scanpulse.alerts.models import Alert, Dismissal, TriageAction
from scanpulse.alerts.services import expire_dismissals
from scanpulse.projects.models import Project
from tests.alerts.conftest import client_for


def make_alert(project: Project, line: int, *, ref: str = "main", **fields: Any) -> Alert:
    now = timezone.now()
    scan_id = uuid.uuid4()
    values: dict[str, Any] = {
        "tool": "bandit",
        "rule_id": "B101",
        "severity": "low",
        "path": "app.py",
        "message": f"finding on line {line}",
        **fields,
    }
    return Alert.objects.create(
        project=project,
        ref=ref,
        fingerprint=fields.get("fingerprint", f"{line:032d}"),
        start_line=line,
        end_line=line,
        first_seen_scan=scan_id,
        first_seen_at=now,
        last_seen_scan=scan_id,
        last_seen_at=now,
        **{key: value for key, value in values.items() if key != "fingerprint"},
    )


@pytest.fixture
def project(tenant, tmp_path) -> Project:
    return Project.objects.create(organization=tenant.org, name="app", repo_url=str(tmp_path))


def url(project: Project, alert: Alert | None = None, action: str = "") -> str:
    base = f"/api/projects/{project.id}/alerts/"
    return base + (f"{alert.id}/" if alert else "") + action


def test_an_accepted_risk_needs_an_expiry_in_the_future(tenant, project) -> None:
    alert = make_alert(project, 1)
    later = timezone.now() + timedelta(days=30)

    missing = tenant.client.post(
        url(project, alert, "dismiss"), {"reason": "accepted_risk"}, format="json"
    )
    past = tenant.client.post(
        url(project, alert, "dismiss"),
        {
            "reason": "accepted_risk",
            "expires_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        },
        format="json",
    )
    unknown = tenant.client.post(url(project, alert, "dismiss"), {"reason": "bored"}, format="json")

    assert missing.status_code == 400
    assert "expires_at" in missing.json()["error"]["fields"]
    assert "needs an expiry" in missing.json()["error"]["message"]
    assert past.status_code == 400
    assert past.json()["error"]["fields"]["expires_at"] == ["The expiry must be in the future."]
    assert unknown.status_code == 400 and "reason" in unknown.json()["error"]["fields"]
    assert not Dismissal.objects.exists() and not TriageAction.objects.exists()

    accepted = tenant.client.post(
        url(project, alert, "dismiss"),
        {"reason": "accepted_risk", "comment": "behind the VPN", "expires_at": later.isoformat()},
        format="json",
    )
    assert accepted.status_code == 200
    assert accepted.json()["state"] == "dismissed"
    assert accepted.json()["dismissal"]["reason"] == "accepted_risk"


def test_an_expired_risk_acceptance_reopens_by_itself_with_an_expired_entry(
    tenant, project
) -> None:
    # given: a risk accepted until a time we control
    alert = make_alert(project, 1)
    expiry = timezone.now() + timedelta(days=7)
    response = tenant.client.post(
        url(project, alert, "dismiss"),
        {
            "reason": "accepted_risk",
            "comment": "until the upgrade",
            "expires_at": expiry.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200
    # when: housekeeping runs before the expiry, nothing changes
    assert expire_dismissals(now=expiry - timedelta(seconds=1)) == 0
    assert tenant.client.get(url(project, alert)).json()["state"] == "dismissed"
    # when: the expiry passes (moved into the past), reads show the alert open at once
    Dismissal.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tenant.client.get(url(project, alert)).json()["state"] == "open"
    assert [a["id"] for a in tenant.client.get(url(project) + "?state=open").json()["results"]] == [
        str(alert.id)
    ]
    # ... and housekeeping records the expiry once, by the system, and ends the dismissal
    assert expire_dismissals() == 1
    assert expire_dismissals() == 0
    detail = tenant.client.get(url(project, alert)).json()
    assert detail["state"] == "open" and detail["dismissal"] is None
    assert [(h["action"], h["by"], h["reason"]) for h in detail["history"]] == [
        ("expired", None, "accepted_risk"),
        ("dismissed", tenant.user.email, "accepted_risk"),
    ]


def test_history_shows_who_when_why(tenant, project) -> None:
    alert = make_alert(project, 1)
    member = client_for(tenant, "dev@acme.example", "member")
    before = timezone.now()

    tenant.client.post(
        url(project, alert, "dismiss"),
        {"reason": "false_positive", "comment": "constant string\nnot user input"},
        format="json",
    )
    reopened = member.post(
        url(project, alert, "reopen"), {"comment": "it is reachable"}, format="json"
    )
    again = member.post(url(project, alert, "reopen"), {}, format="json")  # not dismissed: no-op

    assert reopened.status_code == 200 and reopened.json()["state"] == "open"
    assert again.status_code == 200
    history = again.json()["history"]
    assert [(h["action"], h["by"], h["reason"], h["comment"]) for h in history] == [
        ("reopened", "dev@acme.example", None, "it is reachable"),
        ("dismissed", tenant.user.email, "false_positive", "constant string\nnot user input"),
    ]
    for entry in history:
        assert entry["at"].endswith("Z")
        assert before <= timezone.datetime.fromisoformat(entry["at"]) <= timezone.now()


def test_a_dismissal_covers_every_ref_of_the_fingerprint(tenant, project) -> None:
    main = make_alert(project, 1, fingerprint="a" * 32)
    dev = make_alert(project, 1, ref="dev", fingerprint="a" * 32)
    other = make_alert(project, 2, ref="dev")

    tenant.client.post(url(project, main, "dismiss"), {"reason": "wont_fix"}, format="json")

    states = {a["id"]: a["state"] for a in tenant.client.get(url(project)).json()["results"]}
    assert states == {str(main.id): "dismissed", str(dev.id): "dismissed", str(other.id): "open"}
    assert tenant.client.get(url(project, dev)).json()["history"][0]["action"] == "dismissed"


def test_bulk_triage_applies_all_or_nothing(tenant, other_tenant, project, tmp_path) -> None:
    alerts = [make_alert(project, line) for line in (1, 2, 3)]
    theirs = make_alert(
        Project.objects.create(organization=other_tenant.org, name="x", repo_url=str(tmp_path)), 1
    )
    stranger = uuid.uuid4()
    bulk = url(project) + "triage"

    # an id of another organization's alert, and one of nothing: refused, naming both
    refused = tenant.client.post(
        bulk,
        {
            "alerts": [str(alerts[0].id), str(theirs.id), str(stranger)],
            "action": "dismiss",
            "reason": "false_positive",
        },
        format="json",
    )
    assert refused.status_code == 400
    [message] = refused.json()["error"]["fields"]["alerts"]
    assert str(theirs.id) in message and str(stranger) in message
    assert str(alerts[0].id) not in message
    assert not Dismissal.objects.exists() and not TriageAction.objects.exists()

    # too many, or no reason: refused too
    too_many = tenant.client.post(
        bulk,
        {"alerts": [str(uuid.uuid4()) for _ in range(501)], "action": "reopen"},
        format="json",
    )
    assert too_many.status_code == 400 and "alerts" in too_many.json()["error"]["fields"]
    no_reason = tenant.client.post(
        bulk, {"alerts": [str(alerts[0].id)], "action": "dismiss"}, format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]

    # every id known: all dismissed together, with one reason
    done = tenant.client.post(
        bulk,
        {
            "alerts": [str(alert.id) for alert in alerts[:2]],
            "action": "dismiss",
            "reason": "used_in_tests",
            "comment": "fixtures",
        },
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["count"] == 2
    assert {a["state"] for a in done.json()["alerts"]} == {"dismissed"}
    dismissed = tenant.client.get(url(project) + "?state=dismissed").json()["results"]
    assert sorted(a["start_line"] for a in dismissed) == [1, 2]
    assert theirs.project.dismissals.count() == 0

    reopened = tenant.client.post(
        bulk, {"alerts": [str(alerts[0].id)], "action": "reopen"}, format="json"
    )
    assert reopened.status_code == 200
    assert tenant.client.get(url(project) + "?state=dismissed").json()["count"] == 1


def test_a_failure_midway_keeps_nothing_of_a_bulk_dismissal(tenant, project, monkeypatch) -> None:
    from scanpulse.alerts import services

    alerts = [make_alert(project, line) for line in (1, 2)]

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_record", broken)
    with pytest.raises(RuntimeError):
        services.alerts_dismiss(user=tenant.user, project=project, alerts=alerts, reason="wont_fix")
    assert not Dismissal.objects.exists()
