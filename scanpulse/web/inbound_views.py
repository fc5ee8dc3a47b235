"""The organization's "Inbound webhooks" page (owners and admins): the URL to register per
host, the secret shown once when generated, and the latest deliveries with what came of
each."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_http_methods

from scanpulse.integrations.parsers import Host
from scanpulse.integrations.selectors import hook_path, inbound_overview
from scanpulse.integrations.services import inbound_secret_rotate
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import page_or_404
from .pages import render_page


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def inbound_webhooks(request: SignedInHttpRequest, organization_id: UUID) -> HttpResponse:
    secret = ""
    if request.method == "POST":
        secret = inbound_secret_rotate(user=request.user, organization_id=organization_id)
    overview = inbound_overview(user=request.user, organization_id=organization_id)
    context: dict[str, Any] = {
        "organization": Organization.objects.get(pk=organization_id),
        "overview": overview,
        "secret": secret,
        "hosts": [
            (host.label, request.build_absolute_uri(hook_path(organization_id, host)))
            for host in Host
        ],
    }
    response = render_page(request, "web/inbound_webhooks.html", context)
    if secret:
        response["Cache-Control"] = "no-store"
    return response
