"""A project's Schedules page: the list with each next run on its zone's clock, the forms of
owners and admins, what members and viewers see, and other organizations' 404s."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from scanpulse.projects.models import Project
from scanpulse.schedules.models import Schedule
from scanpulse.schedules.services import schedule_create
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(tenant) -> Project:
    return Project.objects.create(organization=tenant.org, name="web", repo_url="/srv/web")


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(project: Project, schedule: Any = None, action: str = "") -> str:
    base = f"/projects/{project.id}/schedules/"
    return base if schedule is None else f"{base}{schedule.pk}/{action}"


def test_the_project_page_links_to_its_schedules(tenant, project) -> None:
    html = browser(tenant.user).get(f"/projects/{project.id}/").content.decode()
    assert f'href="{page_url(project)}"' in html


def test_the_list_shows_the_next_run_on_the_schedules_own_clock(tenant, project) -> None:
    schedule = schedule_create(
        user=tenant.user, project=project, kind="cron", cron="30 6 * * *", timezone="Asia/Tokyo"
    )
    assert schedule.next_run_at is not None
    local = schedule.next_run_at.astimezone(ZoneInfo("Asia/Tokyo"))
    html = browser(tenant.user).get(page_url(project)).content.decode()
    assert local.strftime("%Y-%m-%d 06:30 JST") in html
    assert "Asia/Tokyo" in html and "Add a schedule" in html


def test_an_owner_adds_changes_and_deletes_a_schedule(tenant, project) -> None:
    client = browser(tenant.user)
    added = client.post(
        page_url(project),
        {"kind": "cron", "cron": "0 3 * * 1-5", "timezone": "Europe/Berlin", "enabled": "on"},
    )
    assert added.status_code == 302 and added["Location"] == page_url(project)
    schedule = Schedule.objects.get()
    assert (schedule.cron, schedule.timezone, schedule.ref, schedule.enabled) == (
        "0 3 * * 1-5",
        "Europe/Berlin",
        "main",
        True,
    )
    assert "0 3 * * 1-5" in client.get(page_url(project)).content.decode()

    edit = client.get(page_url(project, schedule))
    assert edit.status_code == 200 and 'value="0 3 * * 1-5"' in edit.content.decode()
    changed = client.post(
        page_url(project, schedule),
        {"kind": "interval", "every": "12", "period": "hours", "ref": "dev"},
    )
    assert changed.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.kind, schedule.every, schedule.ref, schedule.enabled) == (
        "interval",
        12,
        "dev",
        False,  # the box was not ticked
    )
    assert schedule.periodic_task is not None and not schedule.periodic_task.enabled

    deleted = client.post(page_url(project, schedule, "delete"))
    assert deleted.status_code == 302
    assert not Schedule.objects.exists()
    assert not PeriodicTask.objects.filter(task="scanpulse.schedules.run_schedule").exists()


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"kind": "cron", "cron": "0 3 * *"}, "A cron expression has 5 fields"),
        ({"kind": "cron", "cron": "0 3 * * *", "timezone": "Berlin"}, "Unknown time zone"),
        ({"kind": "interval", "every": "x"}, "A valid integer is required."),
    ],
)
def test_a_wrong_form_says_why_on_the_page(tenant, project, fields, says) -> None:
    response = browser(tenant.user).post(page_url(project), fields)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_see_schedules_but_no_forms(tenant, project, role) -> None:
    schedule = schedule_create(user=tenant.user, project=project, kind="cron", cron="0 3 * * *")
    client = browser(user_create(email=f"{role}@acme.example", organization=tenant.org, role=role))
    html = client.get(page_url(project)).content.decode()
    assert "0 3 * * *" in html and "Add a schedule" not in html
    assert "Owners and admins can add, change and delete schedules." in html
    assert client.get(page_url(project, schedule)).status_code == 403
    refused = client.post(page_url(project), {"kind": "cron", "cron": "* * * * *"})
    assert refused.status_code == 403
    assert "Only owners and admins can manage schedules." in refused.content.decode()
    assert client.post(page_url(project, schedule, "delete")).status_code == 403
    assert Schedule.objects.count() == 1


def test_another_organizations_schedules_are_not_found(tenant, other_tenant, project) -> None:
    schedule = schedule_create(user=tenant.user, project=project, kind="cron", cron="0 3 * * *")
    client = browser(other_tenant.user)
    assert client.get(page_url(project)).status_code == 404
    assert client.get(page_url(project, schedule)).status_code == 404
    assert (
        client.post(page_url(project, schedule), {"kind": "cron", "cron": "* * * * *"}).status_code
        == 404
    )
    assert client.post(page_url(project, schedule, "delete")).status_code == 404
    assert Schedule.objects.get().cron == "0 3 * * *"


def test_signed_out_visitors_are_sent_to_sign_in(project) -> None:
    response = Client().get(page_url(project))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_scan_page_says_which_schedule_started_the_scan(tenant, project) -> None:
    from scanpulse.schedules.services import schedule_run

    schedule = schedule_create(
        user=tenant.user, project=project, kind="interval", every=6, period="hours"
    )
    ran = schedule_run(schedule_id=schedule.pk)
    assert ran is not None and ran.last_scan is not None
    html = browser(tenant.user).get(f"/scans/{ran.last_scan.pk}/").content.decode()
    assert "Started by schedule every 6 hours." in html
    listing = browser(tenant.user).get(page_url(project)).content.decode()
    assert f'href="/scans/{ran.last_scan.pk}/"' in listing
