"""Server-rendered pages. Thin: reads go through the selectors, writes through the services,
with the same organization scoping as the API (another organization's page is a 404)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scanpulse.alerts.selectors import alert_list
from scanpulse.core.exceptions import DomainError, Forbidden, PayloadTooLarge
from scanpulse.projects.gate import QualityGate
from scanpulse.projects.selectors import project_get, project_list
from scanpulse.projects.services import project_create, project_update
from scanpulse.scans.models import Scan, ScanStatus
from scanpulse.scans.payloads import new_in_pull_request
from scanpulse.scans.sarif_upload import scan_create_from_sarif
from scanpulse.scans.selectors import finding_list, scan_get, scan_list
from scanpulse.scans.services import scan_cancel, scan_create
from scanpulse.tenancy.permissions import Action, allowed, require_member
from scanpulse.tenancy.selectors import membership_get
from scanpulse.tenancy.types import SignedInHttpRequest

from .alert_data import rule_groups
from .alert_views import alerts_context
from .errors import FORM_REFUSALS, page_or_404, refused_form_page
from .exports import finding_export_response
from .forms import (
    FindingFilterForm,
    GatePolicyForm,
    OrganizationSwitchForm,
    ProjectForm,
    SarifUploadForm,
    ScanConfigForm,
    ScanStartForm,
)
from .organizations import organization_choice, organization_choose
from .pages import render_page
from .presenters import scan_duration, scan_outcome, scan_row
from .selectors import active_scans, finished_scans, scan_log
from .trends import project_trend

FINDINGS_PER_PAGE = 100
CONFIG_REFUSALS: tuple[type[DomainError], ...] = (*FORM_REFUSALS, Forbidden)
UPLOAD_REFUSALS: tuple[type[DomainError], ...] = (*FORM_REFUSALS, PayloadTooLarge)
SCAN_HISTORY_SHOWN = 50
PLACEHOLDER_ID = uuid.UUID(int=0)


@require_GET
@login_required
def dashboard(request: SignedInHttpRequest) -> HttpResponse:
    # The organization (and so the stream cursor) is read before the scans: every event after
    # the cursor reaches the page live, and the scans read later can only be newer, never older.
    organizations = organization_choice(request)
    organization = organizations.current
    context: dict[str, Any] = {"organizations": organizations}
    if organization is not None:
        context |= {
            "organization": organization,
            "stream_cursor": organization.last_event_seq,
            # The page builds links to scans that start later from this one.
            "scan_url_pattern": reverse("web:scan", kwargs={"scan_id": PLACEHOLDER_ID}),
            "active_scans": list(active_scans(user=request.user, organization=organization)),
            "finished_scans": [
                scan_row(scan)
                for scan in finished_scans(user=request.user, organization=organization)
            ],
        }
    return render_page(request, "web/dashboard.html", context)


@require_POST
@login_required
def organization_switch(request: SignedInHttpRequest) -> HttpResponse:
    form = OrganizationSwitchForm(request.POST)
    if form.is_valid():
        organization_choose(request, organization_id=str(form.cleaned_data["organization"]))
        target = form.cleaned_data["next"]
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(target)
    return redirect("web:home")


@require_http_methods(["GET", "POST"])
@login_required
def projects(request: SignedInHttpRequest) -> HttpResponse:
    organizations = organization_choice(request)
    organization = organizations.current
    form = ProjectForm(request.POST if request.method == "POST" else None)
    refusal: DomainError | None = None
    if request.method == "POST" and organization is not None and form.is_valid():
        try:
            project = project_create(user=request.user, organization=organization, **form.validated)
        except FORM_REFUSALS as error:
            form.add_refusal(error)
            refusal = error
        else:
            return redirect("web:project", project_id=project.id)
    listed = (
        project_list(user=request.user, organization_id=organization.id)
        if organization is not None
        else []
    )
    page = render_page(
        request,
        "web/projects.html",
        {"organizations": organizations, "projects": listed, "form": form},
        status=400 if form.errors else 200,
    )
    return refused_form_page(page, refusal) if isinstance(refusal, Forbidden) else page


@require_GET
@login_required
@page_or_404
def project_detail(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    return _project_page(
        request,
        project,
        ScanStartForm(project_id=project.id, default_branch=project.default_branch),
    )


@require_POST
@login_required
@page_or_404
def sarif_upload(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    """Another tool's SARIF report as a new scan of the project (the page's upload form)."""
    project = project_get(user=request.user, project_id=project_id)
    form = SarifUploadForm(request.POST, request.FILES)
    start = ScanStartForm(project_id=project.id, default_branch=project.default_branch)
    form.is_valid()
    try:  # who may not start scans is told so whatever they sent
        require_member(
            user=request.user, organization_id=project.organization_id, action=Action.SCAN_CREATE
        )
    except Forbidden as error:
        form.add_refusal(error)
        return refused_form_page(_project_page(request, project, start, sarif_form=form), error)
    upload = form.cleaned_data.get("file")
    if upload is None:
        form.add_error("file", "Choose a SARIF file to upload.")
        return _project_page(request, project, start, status=400, sarif_form=form)
    try:
        scan = scan_create_from_sarif(
            user=request.user,
            project=project,
            data=upload.read(settings.SCANPULSE_SARIF_MAX_BYTES + 1),
            ref=form.cleaned_data.get("ref") or None,
            root=form.cleaned_data.get("root") or "",
        )
    except UPLOAD_REFUSALS as error:
        form.add_refusal(error)
        page = _project_page(request, project, start, sarif_form=form)
        return refused_form_page(page, error)
    return redirect("web:scan", scan_id=scan.id)


def _project_page(
    request: SignedInHttpRequest,
    project: Any,
    form: ScanStartForm,
    *,
    status: int = 200,
    config_form: ScanConfigForm | None = None,
    sarif_form: SarifUploadForm | None = None,
) -> HttpResponse:
    scans = scan_list(user=request.user, project_id=project.id)[:SCAN_HISTORY_SHOWN]
    membership = membership_get(user=request.user, organization=project.organization)
    context = {
        "project": project,
        "scans": [scan_row(scan) for scan in scans],
        "form": form,
        # Members see the default configuration; owners and admins change it.
        "can_configure": membership is not None
        and allowed(membership.role, Action.PROJECT_CHANGE_SCAN_CONFIG),
        "config_form": config_form or ScanConfigForm(initial={"scan_config": project.scan_config}),
        # Who may start scans may upload another tool's report as one.
        "can_upload": membership is not None and allowed(membership.role, Action.SCAN_CREATE),
        "sarif_form": sarif_form or SarifUploadForm(),
        "sarif_max_mib": settings.SCANPULSE_SARIF_MAX_BYTES // (1024 * 1024),
        "trend": project_trend(user=request.user, project=project),
        **alerts_context(request, project),
    }
    return render_page(request, "web/project.html", context, status=status)


@require_POST
@login_required
@page_or_404
def project_scan_config(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    form = ScanConfigForm(request.POST)
    start = ScanStartForm(project_id=project.id, default_branch=project.default_branch)
    if not form.is_valid():
        return _project_page(request, project, start, status=400, config_form=form)
    try:
        project_update(
            user=request.user,
            project=project,
            changes={"scan_config": form.validated.get("scan_config", "")},
        )
    except CONFIG_REFUSALS as error:  # the parser's message, or a member's refusal
        form.add_refusal(error)
        return refused_form_page(_project_page(request, project, start, config_form=form), error)
    return redirect(reverse("web:project", kwargs={"project_id": project.id}) + "#config-title")


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def project_gate(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    """The project's quality gate: every member reads it, owners and admins change it (others
    get the 403 page, as from the API)."""
    project = project_get(user=request.user, project_id=project_id)
    membership = membership_get(user=request.user, organization=project.organization)
    may_change = membership is not None and allowed(membership.role, Action.PROJECT_GATE)
    policy = QualityGate.from_stored(project.gate_policy).to_json()
    form = GatePolicyForm.of(policy)
    refusal: DomainError | None = None
    status = 200
    if request.method == "POST":
        form = GatePolicyForm(request.POST)
        if form.is_valid():
            try:
                project_update(
                    user=request.user, project=project, changes={"gate_policy": form.policy()}
                )
            except CONFIG_REFUSALS as error:
                form.add_refusal(error)
                refusal = error
            else:
                messages.success(request, "Quality gate saved.")
                return redirect("web:project-gate", project_id=project.id)
        status = 400
    page = render_page(
        request,
        "web/project_gate.html",
        {
            "project": project,
            "policy": policy,
            "enabled": QualityGate.from_stored(project.gate_policy).enabled(),
            "form": form,
            "may_change": may_change,
        },
        status=status,
    )
    return refused_form_page(page, refusal) if refusal is not None else page


@require_POST
@login_required
@page_or_404
def scan_start(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    form = ScanStartForm(request.POST, project_id=project.id, default_branch=project.default_branch)
    if not form.is_valid():
        return _project_page(request, project, form, status=400)
    try:
        scan = scan_create(user=request.user, project=project, ref=form.validated.get("ref"))
    except FORM_REFUSALS as error:  # e.g. the organization's queue is full (429)
        form.add_refusal(error)
        return refused_form_page(_project_page(request, project, form), error)
    return redirect("web:scan", scan_id=scan.id)


@require_GET
@login_required
@page_or_404
def scan_detail(request: SignedInHttpRequest, scan_id: str) -> HttpResponse:
    scan = scan_get(user=request.user, scan_id=scan_id)
    context = {
        "scan": scan,
        "log": scan_log(scan=scan),
        "duration": scan_duration(scan),
        "new_in_pull_request": new_in_pull_request(scan),
        **_results_context(request, scan),
    }
    return render_page(request, "web/scan.html", context)


def _findings_filtered(request: SignedInHttpRequest, scan: Scan) -> tuple[Any, Any, Any]:
    outcome = scan_outcome(scan)
    tools = sorted(report.name for report in outcome.analyzers)
    filter_form = FindingFilterForm(request.GET, tools=tools)
    filters = filter_form.filters()
    return outcome, filter_form, finding_list(scan=scan, **filters)


def _results_context(request: SignedInHttpRequest, scan: Scan) -> dict[str, Any]:
    outcome, filter_form, findings = _findings_filtered(request, scan)
    export_query = request.GET.copy()
    for name in ("page", "format", "group"):
        export_query.pop(name, None)
    context: dict[str, Any] = {
        "scan": scan,
        "outcome": outcome,
        "filter_form": filter_form,
        "filtered": any(request.GET.get(name) for name in filter_form.fields),
        "completed": scan.status == ScanStatus.COMPLETED,
        "export_query": export_query.urlencode(),
    }
    if filter_form.by_rule:
        rule_query = export_query.copy()
        rule_query.pop("rule", None)
        return context | {
            "rule_groups": rule_groups(findings),
            "rule_query": rule_query.urlencode(),
        }
    page = Paginator(findings, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    alerts = {
        alert.fingerprint: alert
        for alert in alert_list(project=scan.project, ref=scan.ref).filter(
            fingerprint__in={finding.fingerprint for finding in listed}
        )
    }
    query = request.GET.copy()
    query.pop("page", None)
    return context | {
        "findings": page,
        "finding_rows": [(finding, alerts.get(finding.fingerprint)) for finding in listed],
        "page_query": query.urlencode(),
    }


@require_GET
@login_required
@page_or_404
def scan_findings_export(request: SignedInHttpRequest, scan_id: str) -> HttpResponseBase:
    """The scan's filtered findings (every page) as ``?format=csv`` or ``?format=json``, each
    with what its alert shows now."""
    scan = scan_get(user=request.user, scan_id=scan_id)
    _, _, findings = _findings_filtered(request, scan)
    kind = request.GET.get("format", "csv")
    return finding_export_response(
        scan, findings.iterator(chunk_size=500), kind if kind in ("csv", "json") else "csv"
    )


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def scan_cancel_view(request: SignedInHttpRequest, scan_id: str) -> HttpResponse:
    """GET asks for confirmation (the page's dialog asks in place when script runs); POST
    cancels."""
    scan = scan_get(user=request.user, scan_id=scan_id)
    if request.method == "POST":
        scan_cancel(user=request.user, scan=scan)
    elif not scan.is_terminal and scan.cancel_requested_at is None:
        return render_page(request, "web/scan_cancel.html", {"scan": scan})
    return redirect("web:scan", scan_id=scan.id)
