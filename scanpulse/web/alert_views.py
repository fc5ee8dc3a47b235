"""A project's alerts in the pages: the list (filters, grouping by rule, pages, exports, bulk
triage), an alert's own page, and its triage forms.

Reads go through ``alerts.selectors`` and writes through ``alerts.services`` — the bulk form
calls the bulk API's service, all or none — with the same scoping as the API: another
organization's project or alert is the not-found page, and a role that may not triage gets
the 403 page before its input is even looked at. Every form posts, then redirects back.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from scanpulse.alerts.models import Alert, DismissalReason
from scanpulse.alerts.selectors import alert_get, alert_list, alert_tools
from scanpulse.alerts.services import alerts_dismiss, alerts_reopen, alerts_triage
from scanpulse.core.exceptions import Invalid
from scanpulse.projects.models import Project
from scanpulse.projects.selectors import project_get
from scanpulse.tenancy.permissions import Action, allowed, require_member
from scanpulse.tenancy.selectors import membership_of
from scanpulse.tenancy.types import SignedInHttpRequest, User

from .alert_data import alert_detail, alert_rows, rule_groups
from .errors import page_or_404
from .exports import export_response
from .forms import AlertFilterForm, BulkTriageForm, DismissForm, ReopenForm
from .pages import render_page

ALERTS_PER_PAGE = 50
EXPORT_FORMATS = ("csv", "json")


def can_triage(user: User, project: Project) -> bool:
    membership = membership_of(user=user, organization_id=project.organization_id)
    return membership is not None and allowed(membership.role, Action.ALERT_TRIAGE)


def _filtered(query: QueryDict, project: Project) -> tuple[AlertFilterForm, Any]:
    form = AlertFilterForm(query, tools=alert_tools(project=project))
    chosen = form.filters()
    return form, alert_list(
        project=project,
        state=chosen["state"],
        severity=chosen["severity"],
        tool=chosen["tool"],
        rule=chosen["rule"],
        path=chosen["path"],
        q=chosen["q"],
    )


def _query_without(query: QueryDict, *names: str) -> str:
    kept = query.copy()
    for name in names:
        kept.pop(name, None)
    return kept.urlencode()


def alerts_context(request: SignedInHttpRequest, project: Project) -> dict[str, Any]:
    """The project page's alert list: filtered, by rule or a page of alerts."""
    form, alerts = _filtered(request.GET, project)
    context: dict[str, Any] = {
        "alert_filter": form,
        "alert_filtered": any(request.GET.get(name) for name in form.fields),
        "alert_export_query": _query_without(request.GET, "page", "format", "group"),
        "alert_page_query": _query_without(request.GET, "page"),
        "may_triage": can_triage(request.user, project),
        "bulk_form": BulkTriageForm(),
    }
    if form.by_rule:
        context["rule_groups"] = rule_groups(alerts)
        context["rule_query"] = _query_without(request.GET, "page", "group", "rule")
        return context
    page = Paginator(alerts, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    context["alerts"] = page
    context["alert_rows"] = alert_rows(project=project, alerts=page.object_list)
    return context


@require_GET
@login_required
@page_or_404
def alert_export(request: SignedInHttpRequest, project_id: str) -> HttpResponseBase:
    """The filtered list (all of it, every page) as ``?format=csv`` or ``?format=json``."""
    project = project_get(user=request.user, project_id=project_id)
    kind = request.GET.get("format", "csv")
    if kind not in EXPORT_FORMATS:
        kind = "csv"
    _, alerts = _filtered(request.GET, project)
    return export_response(project, alerts.iterator(chunk_size=500), kind)


def _alert_page(
    request: SignedInHttpRequest,
    project: Project,
    alert: Alert,
    *,
    dismiss_form: DismissForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "project": project,
        "detail": alert_detail(project=project, alert=alert),
        "may_triage": can_triage(request.user, project),
        "dismiss_form": dismiss_form or DismissForm(),
        "reopen_form": ReopenForm(),
        "accepted_risk": DismissalReason.ACCEPTED_RISK,
    }
    return render_page(request, "web/alert.html", context, status=status)


@require_GET
@login_required
@page_or_404
def alert_page(request: SignedInHttpRequest, project_id: str, alert_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    return _alert_page(request, project, alert_get(project=project, alert_id=alert_id))


def _writable(request: SignedInHttpRequest, project_id: str) -> Project:
    """The project, once the caller's role may triage (else the 403 page)."""
    project = project_get(user=request.user, project_id=project_id)
    require_member(
        user=request.user, organization_id=project.organization_id, action=Action.ALERT_TRIAGE
    )
    return project


@require_POST
@login_required
@page_or_404
def alert_dismiss(request: SignedInHttpRequest, project_id: str, alert_id: str) -> HttpResponse:
    project = _writable(request, project_id)
    alert = alert_get(project=project, alert_id=alert_id)
    form = DismissForm(request.POST)
    if form.is_valid():
        try:
            alerts_dismiss(user=request.user, project=project, alerts=[alert], **form.validated)
        except Invalid as error:
            form.add_refusal(error)
        else:
            messages.success(request, "Alert dismissed.")
            return redirect("web:alert", project_id=project.id, alert_id=alert.id)
    return _alert_page(request, project, alert, dismiss_form=form, status=400)


@require_POST
@login_required
@page_or_404
def alert_reopen(request: SignedInHttpRequest, project_id: str, alert_id: str) -> HttpResponse:
    project = _writable(request, project_id)
    alert = alert_get(project=project, alert_id=alert_id)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(_problems(form)))
    else:
        alerts_reopen(user=request.user, project=project, alerts=[alert], **form.validated)
        messages.success(request, "Alert reopened.")
    return redirect("web:alert", project_id=project.id, alert_id=alert.id)


def _problems(form: ReopenForm | BulkTriageForm) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


def _back(request: SignedInHttpRequest, project: Project) -> str:
    """Where a form of the list returns: the list as it was (a path of this site only)."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("web:project", kwargs={"project_id": project.id})


@require_POST
@login_required
@page_or_404
def alert_bulk_triage(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    """Dismiss or reopen the checked alerts of the list with one reason, all or none."""
    project = _writable(request, project_id)
    form = BulkTriageForm(request.POST)
    if form.is_valid():
        data = form.validated
        try:
            changed = alerts_triage(
                user=request.user,
                project=project,
                alert_ids=data["alerts"],
                action=data["action"],
                reason=data.get("reason"),
                comment=data["comment"],
                expires_at=data.get("expires_at"),
            )
        except Invalid as error:
            form.add_refusal(error)
        else:
            messages.success(request, _triaged_message(data["action"], changed))
            return redirect(_back(request, project))
    messages.error(request, "Nothing was changed: " + " ".join(_problems(form)))
    return redirect(_back(request, project))


def _triaged_message(action: str, alerts: list[Any]) -> str:
    """What a bulk triage did: reopening counts only the alerts that were dismissed (as they
    showed just before), the others are named apart."""
    count = len(alerts)
    if action == "dismiss":
        return f"{count} alert{'s' if count != 1 else ''} dismissed."
    reopened = sum(1 for alert in alerts if getattr(alert, "shown_state", "") == "dismissed")
    text = f"{reopened} alert{'s' if reopened != 1 else ''} reopened."
    if reopened < count:
        left = count - reopened
        text += f" {left} {'was' if left == 1 else 'were'} not dismissed: nothing to reopen."
    return text
