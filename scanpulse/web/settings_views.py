"""The organization's settings page (members, invitations, its own single sign-on provider,
links to the pages of its webhooks and credentials), its audit log page, and one's own API
tokens page.

Every write goes through the services of ``scanpulse.tenancy`` (which check roles and record
the audit entries); the pages only show what the caller's role allows.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import ValidationError

from scanpulse.audit.services import AuditAction
from scanpulse.core.exceptions import Conflict, DomainError, Invalid, NotFound, Unavailable
from scanpulse.tenancy.apis import audit_filtered, invitation_link
from scanpulse.tenancy.members import (
    invitation_create,
    invitation_revoke,
    membership_remove,
    membership_set_role,
)
from scanpulse.tenancy.models import Organization, OrganizationSso, Role, TokenScope
from scanpulse.tenancy.payloads import audit_csv
from scanpulse.tenancy.permissions import Action, allowed
from scanpulse.tenancy.selectors import invitations_pending, members_of, membership_of, tokens_of
from scanpulse.tenancy.services import token_create, token_revoke_own
from scanpulse.tenancy.sso_settings import organization_sso_remove, organization_sso_set
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import page_or_404
from .pages import render_page

# Forbidden is not among them: a refused role gets the 403 page (page_or_404).
_REFUSALS = (Invalid, Conflict)


def _membership(request: SignedInHttpRequest, organization_id: UUID) -> Any:
    membership = membership_of(user=request.user, organization_id=organization_id)
    if membership is None:
        raise NotFound("Organization not found.")
    return membership


def _settings_url(organization_id: UUID) -> str:
    return reverse("web:organization-settings", args=[organization_id])


@require_http_methods(["GET"])
@login_required
@page_or_404
def organization_settings(request: SignedInHttpRequest, organization_id: UUID) -> HttpResponse:
    membership = _membership(request, organization_id)
    can_manage = allowed(membership.role, Action.MEMBER_MANAGE)
    context: dict[str, Any] = {
        "organization": Organization.objects.get(pk=organization_id),
        "membership": membership,
        "members": list(members_of(organization_id=organization_id)),
        "invitations": list(invitations_pending(organization_id=organization_id))
        if can_manage
        else [],
        "can_manage": can_manage,
        "is_owner": membership.role == Role.OWNER,
        "can_audit": allowed(membership.role, Action.AUDIT_VIEW),
        "can_see_webhooks": allowed(membership.role, Action.WEBHOOK_MANAGE),
        "roles": Role.choices,
    }
    if allowed(membership.role, Action.SSO_MANAGE):
        # The client secret is write-only: the page says whether one is stored, never what.
        context["sso"] = {
            "provider": OrganizationSso.objects.filter(organization_id=organization_id).first(),
            "sign_in_url": request.build_absolute_uri(
                reverse("web:sso-login") + f"?organization={organization_id}"
            ),
            "redirect_uri": request.build_absolute_uri(reverse("web:sso-callback")),
        }
    return render_page(request, "web/organization_settings.html", context)


@require_POST
@login_required
@page_or_404
def organization_sso(request: SignedInHttpRequest, organization_id: UUID) -> HttpResponse:
    """Set, change (an empty client secret keeps the stored one) or remove the organization's
    own OpenID Connect provider: owners."""
    _membership(request, organization_id)
    organization = Organization.objects.get(pk=organization_id)
    if request.POST.get("action") == "remove":
        return _act(
            request,
            organization_id,
            "Single sign-on provider removed.",
            lambda: organization_sso_remove(organization=organization, actor=request.user),
        )
    return _act(
        request,
        organization_id,
        "Single sign-on saved.",
        # The issuer's address refused (not HTTPS) is said on the page too.
        refusals=(*_REFUSALS, Unavailable),
        action=lambda: organization_sso_set(
            organization=organization,
            issuer=request.POST.get("issuer", "").strip(),
            client_id=request.POST.get("client_id", ""),
            client_secret=request.POST.get("client_secret", ""),
            scopes=request.POST.get("scopes", ""),
            default_role=request.POST.get("default_role", Role.MEMBER),
            actor=request.user,
        ),
    )


def _act(
    request: SignedInHttpRequest,
    organization_id: UUID,
    done: str,
    action: Any,
    refusals: tuple[type[DomainError], ...] = _REFUSALS,
) -> Any:
    try:
        action()
    except refusals as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(_settings_url(organization_id))


@require_POST
@login_required
@page_or_404
def member_invite(request: SignedInHttpRequest, organization_id: UUID) -> HttpResponse:
    _membership(request, organization_id)
    email = request.POST.get("email", "")
    role = request.POST.get("role", Role.MEMBER)
    return _act(
        request,
        organization_id,
        f"Invitation sent to {email.strip().lower()}.",
        lambda: invitation_create(
            user=request.user,
            organization_id=organization_id,
            email=email,
            role=role,
            link=invitation_link(request),
        ),
    )


@require_POST
@login_required
@page_or_404
def member_role(request: SignedInHttpRequest, organization_id: UUID, user_id: int) -> HttpResponse:
    _membership(request, organization_id)
    role = request.POST.get("role", "")
    return _act(
        request,
        organization_id,
        "Role changed.",
        lambda: membership_set_role(
            user=request.user, organization_id=organization_id, user_id=user_id, role=role
        ),
    )


@require_POST
@login_required
@page_or_404
def member_remove(
    request: SignedInHttpRequest, organization_id: UUID, user_id: int
) -> HttpResponse:
    _membership(request, organization_id)
    leaving = request.user.pk == user_id
    response = _act(
        request,
        organization_id,
        "You left the organization." if leaving else "Member removed.",
        lambda: membership_remove(
            user=request.user, organization_id=organization_id, user_id=user_id
        ),
    )
    if leaving and membership_of(user=request.user, organization_id=organization_id) is None:
        return HttpResponseRedirect(reverse("web:home"))
    return response


@require_POST
@login_required
@page_or_404
def invitation_withdraw(
    request: SignedInHttpRequest, organization_id: UUID, invitation_id: UUID
) -> HttpResponse:
    _membership(request, organization_id)
    return _act(
        request,
        organization_id,
        "Invitation withdrawn.",
        lambda: invitation_revoke(
            user=request.user, organization_id=organization_id, invitation_id=invitation_id
        ),
    )


@require_http_methods(["GET"])
@login_required
@page_or_404
def audit_log(request: SignedInHttpRequest, organization_id: UUID) -> HttpResponse:
    """The audit log (owners and admins), filtered like the API; ``export=csv`` downloads it."""
    _membership(request, organization_id)
    try:
        # The filter form sends its empty fields; on the page they mean "not given".
        given = {key: value for key, value in request.GET.items() if value != ""}
        entries, options = audit_filtered(request.user, organization_id, given)
    except ValidationError:
        entries = None
        options = {
            "export": None,
            "error": "Check the filters: dates as 2026-01-31 or 2026-01-31T12:00.",
        }
    if entries is not None and options["export"] == "csv":
        response = HttpResponse(audit_csv(entries.iterator()), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response
    context: dict[str, Any] = {
        "organization": Organization.objects.get(pk=organization_id),
        "entries": list(entries[:200]) if entries is not None else [],
        "filters": {key: request.GET.get(key, "") for key in ("actor", "action", "since", "until")},
        "actions": AuditAction.choices,
        "filter_error": options.get("error"),
        "query": request.GET.urlencode(),
    }
    return render_page(request, "web/audit.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def tokens(request: SignedInHttpRequest) -> HttpResponse:
    """One's own API tokens: create one with a scope and an expiry (its value shown this
    once), see when and from where each was last used, revoke."""
    created = ""
    refusal = ""
    if request.method == "POST":
        expiry = request.POST.get("expires_in_days", "").strip()
        try:
            days = int(expiry) if expiry else None
        except ValueError:
            days = -1
        try:
            _, created = token_create(
                user=request.user,
                name=request.POST.get("name", ""),
                scope=request.POST.get("scope", TokenScope.READ),
                expires_in_days=days,
            )
        except _REFUSALS as error:
            refusal = error.message
    context: dict[str, Any] = {
        "tokens": list(tokens_of(user=request.user)),
        "created": created,
        "refusal": refusal,
        "scopes": TokenScope.choices,
    }
    response = render_page(request, "web/tokens.html", context, status=400 if refusal else 200)
    if created:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
@page_or_404
def token_revoke(request: SignedInHttpRequest, token_id: UUID) -> HttpResponse:
    api_token = token_revoke_own(user=request.user, token_id=token_id)
    messages.success(request, f"Token {api_token.name} revoked.")
    return HttpResponseRedirect(reverse("web:tokens"))
