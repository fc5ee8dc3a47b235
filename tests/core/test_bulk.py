"""Rows inserted by ``core.bulk.bulk_insert`` read back as the ORM would have stored them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from scanpulse.alerts.models import Alert
from scanpulse.core.bulk import bulk_insert
from scanpulse.projects.models import Project
from scanpulse.scans.models import Finding, Scan


def test_rows_read_back_with_their_values_and_defaults(tenant, tmp_path) -> None:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    scan = Scan.objects.create(project=project, organization=tenant.org, ref="main")
    before = timezone.now()
    rows = [
        {
            "scan_id": scan.pk,
            "tool": "bandit",
            "rule_id": "B101",
            "severity": "high",
            "confidence": "medium",
            "path": "app/ü.py",
            "start_line": None if n == 0 else n,
            "end_line": None if n == 0 else n + 1,
            "message": 'quote " and tab \t and newline \n and backslash \\',
            "fingerprint": f"{n:064d}",
            "status": "new",
            "dismissed_reason": None,
            "properties": {"occurrence": n, "nested": {"list": [1, "two", None]}},
            "position": n,
        }
        for n in range(3)
    ]

    assert bulk_insert(Finding, rows) == 3

    stored = list(Finding.objects.filter(scan=scan).order_by("position"))
    assert [f.start_line for f in stored] == [None, 1, 2]
    assert stored[2].properties == {"occurrence": 2, "nested": {"list": [1, "two", None]}}
    assert stored[0].message == rows[0]["message"] and stored[0].path == "app/ü.py"
    assert len({f.id for f in stored}) == 3 and all(isinstance(f.id, uuid.UUID) for f in stored)
    assert all(before <= f.created_at <= timezone.now() for f in stored)  # auto_now_add


def test_alerts_take_their_field_defaults(tenant, tmp_path) -> None:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    seen = timezone.now() - timedelta(days=1)
    scan_id = uuid.uuid4()
    row = {
        "project_id": project.pk,
        "ref": "main",
        "fingerprint": "f" * 64,
        "tool": "secrets",
        "rule_id": "aws",
        "severity": "critical",
        "path": "settings.py",
        "start_line": 3,
        "end_line": 3,
        "message": "a key",
        "first_seen_scan": scan_id,
        "first_seen_at": seen,
        "last_seen_scan": scan_id,
        "last_seen_at": seen,
    }

    bulk_insert(Alert, [row])

    alert = Alert.objects.get(project=project)
    assert (alert.state, alert.closed_reason, alert.fixed_at, alert.fixed_in_scan) == (
        "open",
        "",
        None,
        None,
    )
    assert alert.first_seen_scan == scan_id and alert.last_seen_at == seen
    assert alert.first_seen_commit == ""


def test_nothing_to_insert(tenant) -> None:
    assert bulk_insert(Finding, []) == 0


def test_rows_with_different_keys_each_take_what_they_give_and_defaults_for_the_rest(
    tenant, tmp_path
) -> None:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    scan = Scan.objects.create(project=project, organization=tenant.org, ref="main")
    given = uuid.uuid4()
    base = {
        "scan_id": scan.pk,
        "tool": "bandit",
        "rule_id": "B101",
        "severity": "low",
        "confidence": "low",
        "path": "a.py",
        "message": "m",
        "status": "new",
    }
    rows = [
        {**base, "fingerprint": "a" * 64, "position": 0},  # no lines, properties or reason
        {
            **base,
            "id": given,
            "fingerprint": "b" * 64,
            "position": 1,
            "start_line": 7,
            "properties": {"k": "v"},
            "dismissed_reason": "false_positive",
        },
        {**base, "fingerprint": "c" * 64, "position": 2},
    ]

    assert bulk_insert(Finding, rows) == 3

    first, second, third = Finding.objects.filter(scan=scan).order_by("position")
    assert (first.start_line, first.properties, first.dismissed_reason) == (None, {}, None)
    assert (second.id, second.start_line, second.properties, second.dismissed_reason) == (
        given,
        7,
        {"k": "v"},
        "false_positive",
    )
    assert len({first.id, second.id, third.id}) == 3  # a fresh id for each row left without
