"""The "Credentials & access" pages: a project's credential and pinned SSH host keys, and an
organization's shared credentials. Everyone in the organization sees that a credential exists
and its fingerprint; only owners and admins change anything (the services check). A secret
is taken once, in a form, and never shown again."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from scanpulse.core.exceptions import DomainError, Forbidden
from scanpulse.credentials.selectors import (
    host_key_pins,
    member_of,
    organization_credential_get,
    organization_credentials,
)
from scanpulse.credentials.services import (
    credential_create,
    credential_delete,
    host_key_set,
    host_keys_reset,
)
from scanpulse.projects.access import (
    project_credential_create,
    project_credential_remove,
    project_credential_use,
)
from scanpulse.projects.selectors import project_get
from scanpulse.tenancy.permissions import Action, allowed
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import page_or_404
from .pages import render_page


def _secret_fields(post: Any) -> dict[str, Any]:
    kind = post.get("kind", "")
    fields = {"kind": kind}
    if kind == "https_token":
        fields |= {"username": post.get("username", "").strip(), "token": post.get("token", "")}
    else:
        fields["private_key"] = post.get("private_key", "")
    return fields


def _refused(error: DomainError) -> list[str]:
    messages = [message for found in error.fields.values() for message in found]
    return messages or [error.message]


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def project_credentials(request: SignedInHttpRequest, project_id: str) -> HttpResponse:
    project = project_get(user=request.user, project_id=project_id)
    membership = member_of(user=request.user, organization_id=project.organization_id)
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "create":
                project_credential_create(
                    user=request.user, project=project, **_secret_fields(request.POST)
                )
            elif action == "use":
                chosen = request.POST.get("credential") or None
                try:
                    credential_id = UUID(chosen) if chosen else None
                except ValueError:
                    credential_id = UUID(int=0)  # no credential has it: refused as unknown
                project_credential_use(
                    user=request.user, project=project, credential_id=credential_id
                )
            elif action == "remove":
                project_credential_remove(user=request.user, project=project)
            elif action == "pin-host-key":
                host_key_set(
                    user=request.user,
                    organization_id=project.organization_id,
                    project_id=project.pk,
                    host=request.POST.get("host", "").strip(),
                    public_key=request.POST.get("public_key", "").strip(),
                )
            elif action == "reset-host-keys":
                host_keys_reset(
                    user=request.user,
                    organization_id=project.organization_id,
                    project_id=project.pk,
                )
            else:
                errors.append("Unknown action.")
        except Forbidden:
            raise
        except DomainError as error:
            errors = _refused(error)
        if not errors:
            return redirect("web:project-credentials", project_id=project.pk)
        project.refresh_from_db()
    context = {
        "project": project,
        "credential": project.credential,
        "host_keys": list(host_key_pins(project_id=project.pk)),
        "shared": list(
            organization_credentials(user=request.user, organization_id=project.organization_id)
        ),
        "can_manage": allowed(membership.role, Action.CREDENTIAL_MANAGE),
        "errors": errors,
    }
    return render_page(
        request, "web/project_credentials.html", context, status=400 if errors else 200
    )


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def organization_credentials_page(
    request: SignedInHttpRequest, organization_id: str
) -> HttpResponse:
    membership = member_of(user=request.user, organization_id=UUID(str(organization_id)))
    organization = membership.organization
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "create":
                credential_create(
                    user=request.user,
                    organization=organization,
                    name=request.POST.get("name", ""),
                    **_secret_fields(request.POST),
                )
            elif action == "delete":
                credential = organization_credential_get(
                    user=request.user,
                    organization_id=organization.pk,
                    credential_id=request.POST.get("credential", ""),
                )
                credential_delete(
                    user=request.user, credential=credential, in_use=credential.projects.count()
                )
            else:
                errors.append("Unknown action.")
        except Forbidden:
            raise
        except DomainError as error:
            errors = _refused(error)
        if not errors:
            return redirect("web:organization-credentials", organization_id=organization.pk)
    context = {
        "organization": organization,
        "credentials": list(
            organization_credentials(user=request.user, organization_id=organization.pk)
        ),
        "can_manage": allowed(membership.role, Action.CREDENTIAL_MANAGE),
        "errors": errors,
    }
    return render_page(
        request, "web/organization_credentials.html", context, status=400 if errors else 200
    )
