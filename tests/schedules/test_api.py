"""Schedules over the API: create, list with the next run, change, delete; the periodic task
celery beat reads kept in step; roles; another organization's schedules look missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from scanpulse.feeds.periodic import SYNC_FEED_TASK
from scanpulse.projects.models import Project
from scanpulse.schedules.models import Schedule
from scanpulse.tenancy.models import Role
from tests.alerts.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(tenant) -> Project:
    return Project.objects.create(
        organization=tenant.org, name="web", repo_url="/srv/web", default_branch="trunk"
    )


def url(project: Project, schedule: Any = None) -> str:
    base = f"/api/projects/{project.id}/schedules/"
    return base if schedule is None else f"{base}{schedule}/"


def create(client, project: Project, **fields: Any):
    return client.post(url(project), fields, format="json")


def task_of(schedule_id: str) -> PeriodicTask:
    return Schedule.objects.get(pk=schedule_id).periodic_task  # type: ignore[return-value]


def test_a_cron_schedule_shows_its_next_run_in_its_zone(tenant, project) -> None:
    # when
    response = create(
        tenant.client, project, kind="cron", cron="0 3 * * *", timezone="Europe/Berlin"
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["ref"] == "trunk"  # the project's default branch
    assert body["description"] == "0 3 * * * (Europe/Berlin)"
    assert body["enabled"] is True and body["created_by"] == tenant.user.email
    assert body["last_outcome"] is None and body["last_scan"] is None
    local = datetime.fromisoformat(body["next_run_local"])
    assert (local.hour, local.minute) == (3, 0)
    assert local.utcoffset() == ZoneInfo("Europe/Berlin").utcoffset(local.replace(tzinfo=None))
    next_run = datetime.fromisoformat(body["next_run_at"].replace("Z", "+00:00"))
    assert next_run == local.astimezone(UTC)
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(days=1)

    # ... it is listed, with the same next run
    listing = tenant.client.get(url(project)).json()
    assert listing["count"] == 1 and listing["results"][0]["next_run_at"] == body["next_run_at"]
    assert tenant.client.get(url(project, body["id"])).json() == listing["results"][0]

    # ... and celery beat has a periodic task for it, in the same zone
    task = task_of(body["id"])
    assert task.task == "scanpulse.schedules.run_schedule"
    assert json.loads(task.args) == [body["id"]]
    assert task.enabled and task.interval is None
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        "0",
        "3",
        "Europe/Berlin",
    )


def test_an_interval_schedule_runs_that_long_after_it_was_created(tenant, project) -> None:
    before = datetime.now(UTC)
    response = create(tenant.client, project, kind="interval", every=6, period="hours", ref="dev")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["ref"], body["description"], body["cron"]) == ("dev", "every 6 hours", None)
    next_run = datetime.fromisoformat(body["next_run_at"].replace("Z", "+00:00"))
    assert before + timedelta(hours=6) <= next_run <= datetime.now(UTC) + timedelta(hours=6)
    task = task_of(body["id"])
    assert (task.interval.every, task.interval.period, task.crontab) == (6, "hours", None)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"kind": "cron", "cron": "61 * * * *"}, "cron", "Invalid cron expression"),
        ({"kind": "cron", "cron": "0 3 * *"}, "cron", "has 5 fields"),
        ({"kind": "cron"}, "cron", "needs a cron expression"),
        ({"kind": "cron", "cron": "0 3 * * *", "timezone": "Mars/Base"}, "timezone", "IANA"),
        ({"kind": "interval"}, "every", "needs every"),
        ({"kind": "interval", "every": 0, "period": "hours"}, "every", "greater than or equal"),
        ({"kind": "interval", "every": 1, "period": "seconds"}, "period", "not a valid choice"),
        ({"kind": "weekly"}, "kind", "not a valid choice"),
        ({"kind": "cron", "cron": "0 3 * * *", "ref": "-upload-pack"}, "ref", ""),
        ({"kind": "cron", "cron": "0 3 * * *", "owner": "x"}, "owner", "Unknown field"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(tenant, project, fields, field, says) -> None:
    response = create(tenant.client, project, **fields)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert field in error["fields"], error
    assert says in " ".join(error["fields"][field])
    assert not Schedule.objects.exists()
    assert not PeriodicTask.objects.filter(task="scanpulse.schedules.run_schedule").exists()


def test_changes_keep_the_periodic_task_in_step(tenant, project) -> None:
    created = create(tenant.client, project, kind="cron", cron="0 3 * * *").json()
    task_id = task_of(created["id"]).pk

    # another time and zone
    changed = tenant.client.patch(
        url(project, created["id"]),
        {"cron": "30 22 * * 1-5", "timezone": "America/New_York"},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    local = datetime.fromisoformat(changed.json()["next_run_local"])
    assert (local.hour, local.minute, local.weekday() < 5) == (22, 30, True)
    task = task_of(created["id"])
    assert task.pk == task_id  # the same task, changed
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "22", "1-5")
    assert str(task.crontab.timezone) == "America/New_York"
    assert CrontabSchedule.objects.count() == 1  # the old timing went with its last use

    # an interval instead
    changed = tenant.client.patch(
        url(project, created["id"]),
        {"kind": "interval", "every": 2, "period": "days"},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["cron"] is None
    task = task_of(created["id"])
    assert (task.crontab, task.interval.every, task.interval.period) == (None, 2, "days")
    assert not CrontabSchedule.objects.exists()

    # disabled: no next run, and beat no longer sends it
    disabled = tenant.client.patch(url(project, created["id"]), {"enabled": False}, format="json")
    assert disabled.json()["enabled"] is False and disabled.json()["next_run_at"] is None
    assert task_of(created["id"]).enabled is False

    # enabled again
    enabled = tenant.client.patch(url(project, created["id"]), {"enabled": True}, format="json")
    assert enabled.json()["next_run_at"] is not None and task_of(created["id"]).enabled

    # a refused change changes nothing
    refused = tenant.client.patch(
        url(project, created["id"]), {"timezone": "Nowhere"}, format="json"
    )
    assert refused.status_code == 400 and "timezone" in refused.json()["error"]["fields"]
    assert Schedule.objects.get(pk=created["id"]).timezone == "America/New_York"

    # deleted: the task goes too
    assert tenant.client.delete(url(project, created["id"])).status_code == 204
    assert not Schedule.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    # (the advisory feed's own periodic task keeps its interval)
    assert not IntervalSchedule.objects.exclude(periodictask__task=SYNC_FEED_TASK).exists()


def test_deleting_the_project_removes_its_periodic_tasks(tenant, project) -> None:
    for cron in ("0 3 * * *", "0 4 * * *"):
        assert create(tenant.client, project, kind="cron", cron=cron).status_code == 201
    assert PeriodicTask.objects.filter(task="scanpulse.schedules.run_schedule").count() == 2
    assert tenant.client.delete(f"/api/projects/{project.id}/").status_code == 204
    assert not Schedule.objects.exists()
    assert not PeriodicTask.objects.filter(task="scanpulse.schedules.run_schedule").exists()


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_read_but_do_not_manage(tenant, project, role) -> None:
    schedule = create(tenant.client, project, kind="cron", cron="0 3 * * *").json()
    client = client_for(tenant, f"{role}@acme.example", role)

    assert client.get(url(project)).json()["count"] == 1
    assert client.get(url(project, schedule["id"])).status_code == 200
    for response in (
        create(client, project, kind="cron", cron="0 5 * * *"),
        client.patch(url(project, schedule["id"]), {"enabled": False}, format="json"),
        client.delete(url(project, schedule["id"])),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "Only owners and admins can manage schedules."
    stored = Schedule.objects.get()
    assert stored.enabled and stored.periodic_task is not None


def test_an_admin_manages_schedules(tenant, project) -> None:
    admin = client_for(tenant, "admin@acme.example", Role.ADMIN)
    created = create(admin, project, kind="interval", every=30, period="minutes")
    assert created.status_code == 201
    assert admin.delete(url(project, created.json()["id"])).status_code == 204


def test_another_organization_sees_nothing_and_changes_nothing(
    tenant, other_tenant, project
) -> None:
    schedule = create(tenant.client, project, kind="cron", cron="0 3 * * *").json()
    intruder = other_tenant.client
    not_found = [
        intruder.get(url(project)),
        create(intruder, project, kind="cron", cron="* * * * *"),
        intruder.get(url(project, schedule["id"])),
        intruder.patch(url(project, schedule["id"]), {"enabled": False}, format="json"),
        intruder.delete(url(project, schedule["id"])),
    ]
    assert [response.status_code for response in not_found] == [404] * 5
    # ... nor through a project of its own
    own = Project.objects.create(organization=other_tenant.org, name="own", repo_url="/srv/own")
    assert intruder.get(url(own, schedule["id"])).status_code == 404
    assert intruder.delete(url(own, schedule["id"])).status_code == 404
    assert Schedule.objects.get().enabled


def test_signed_out_requests_are_refused(anonymous, project) -> None:
    assert anonymous.get(url(project)).status_code in (401, 403)
