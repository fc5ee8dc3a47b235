"""A project's Schedules page: its schedules with their next run on their own zone's clock,
and (owners and admins) the forms that create, change and delete them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from scanpulse.core.exceptions import DomainError, Forbidden
from scanpulse.projects.models import Project
from scanpulse.projects.selectors import project_get
from scanpulse.schedules.models import Schedule
from scanpulse.schedules.payloads import local_time
from scanpulse.schedules.selectors import schedule_get, schedule_list
from scanpulse.schedules.services import schedule_create, schedule_delete, schedule_update
from scanpulse.tenancy.permissions import Action, allowed
from scanpulse.tenancy.selectors import membership_get
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import FORM_REFUSALS, page_or_404, refused_form_page
from .pages import render_page
from .schedule_forms import ScheduleForm

_WHEN = "%Y-%m-%d %H:%M %Z"


def _row(schedule: Schedule) -> dict[str, Any]:
    local_next = local_time(schedule.next_run_at, schedule.timezone)
    return {
        "schedule": schedule,
        "next_run": local_next.strftime(_WHEN) if local_next is not None else None,
        "next_run_iso": schedule.next_run_at.isoformat() if schedule.next_run_at else "",
    }


def _can_manage(request: SignedInHttpRequest, project: Project) -> bool:
    membership = membership_get(user=request.user, organization=project.organization)
    return membership is not None and allowed(membership.role, Action.SCHEDULE_MANAGE)


def _page(
    request: SignedInHttpRequest,
    project: Project,
    form: ScheduleForm,
    *,
    status: int = 200,
    refusal: DomainError | None = None,
) -> HttpResponse:
    context = {
        "project": project,
        "rows": [_row(schedule) for schedule in schedule_list(project=project)],
        "form": form,
        "can_manage": _can_manage(request, project),
    }
    page = render_page(request, "web/schedules.html", context, status=status)
    return refused_form_page(page, refusal) if refusal is not None else page


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def schedules(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    if request.method != "POST":
        return _page(request, project, ScheduleForm(default_branch=project.default_branch))
    form = ScheduleForm(request.POST, default_branch=project.default_branch)
    if not form.is_valid():
        return _page(request, project, form, status=400)
    try:
        schedule_create(user=request.user, project=project, **form.validated)
    except FORM_REFUSALS as error:
        form.add_refusal(error)
        return _page(request, project, form, refusal=error)
    return redirect("web:schedules", project_id=project.id)


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def schedule_edit(request: SignedInHttpRequest, project_id: str, schedule_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    schedule = schedule_get(project=project, schedule_id=schedule_id)
    if request.method != "POST":
        if not _can_manage(request, project):
            raise Forbidden("Only owners and admins can manage schedules.")
        initial = {
            "ref": schedule.ref,
            "kind": schedule.kind,
            "cron": schedule.cron,
            "every": schedule.every or "",
            "period": schedule.period or "hours",
            "timezone": schedule.timezone,
            "enabled": schedule.enabled,
        }
        form = ScheduleForm(initial=initial, default_branch=project.default_branch)
        return _edit_page(request, project, schedule, form)
    form = ScheduleForm(request.POST, default_branch=project.default_branch)
    if not form.is_valid():
        return _edit_page(request, project, schedule, form, status=400)
    try:
        schedule_update(user=request.user, schedule=schedule, changes=form.validated)
    except FORM_REFUSALS as error:
        form.add_refusal(error)
        page = _edit_page(request, project, schedule, form)
        return refused_form_page(page, error)
    return redirect("web:schedules", project_id=project.id)


def _edit_page(
    request: SignedInHttpRequest,
    project: Project,
    schedule: Schedule,
    form: ScheduleForm,
    *,
    status: int = 200,
) -> HttpResponse:
    context = {"project": project, "row": _row(schedule), "form": form}
    return render_page(request, "web/schedule_edit.html", context, status=status)


@require_POST
@login_required
@page_or_404
def schedule_remove(
    request: SignedInHttpRequest, project_id: str, schedule_id: str
) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    schedule_delete(
        user=request.user, schedule=schedule_get(project=project, schedule_id=schedule_id)
    )
    return redirect("web:schedules", project_id=project.id)
