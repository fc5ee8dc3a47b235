"""An organization's webhook pages: the endpoints and a form to add one (its secret shown
once), and each endpoint's page with its delivery log, a test message, redelivery, the notice
of an endpoint disabled after failures, enabling and disabling, a new secret and deletion.

Reads and writes go through ``notifications.selectors`` and ``notifications.services``, so the
pages answer as the API does: another organization is the not-found page, a role other than
owner or admin the 403 page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from scanpulse.notifications.models import Endpoint
from scanpulse.notifications.selectors import (
    delivery_get,
    delivery_list,
    endpoint_get,
    endpoint_list,
    webhook_organization,
)
from scanpulse.notifications.services import (
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
)
from scanpulse.tenancy.types import SignedInHttpRequest

from .errors import FORM_REFUSALS, page_or_404
from .pages import render_page
from .webhook_forms import WebhookForm

DELIVERIES_PER_PAGE = 50


@require_http_methods(["GET", "POST"])
@login_required
@page_or_404
def webhooks(request: SignedInHttpRequest, organization_id: str) -> HttpResponse:
    organization = webhook_organization(user=request.user, organization_id=organization_id)
    form = WebhookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = endpoint_create(
                user=request.user, organization_id=organization.id, **form.validated
            )
        except FORM_REFUSALS as error:
            form.add_refusal(error)
        else:
            # The secret is shown on this answer only: no redirect, nothing kept to show later.
            return _endpoint_page(request, endpoint, secret=secret, status=201)
    context = {
        "organization": organization,
        "endpoints": list(endpoint_list(user=request.user, organization_id=organization.id)),
        "form": form,
    }
    return render_page(request, "web/webhooks.html", context, status=400 if form.errors else 200)


def _endpoint_page(
    request: SignedInHttpRequest,
    endpoint: Endpoint,
    *,
    secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    paginator = Paginator(delivery_list(endpoint=endpoint), DELIVERIES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "organization": endpoint.organization,
        "endpoint": endpoint,
        "deliveries": page,
        "secret": secret,
    }
    response = render_page(request, "web/webhook.html", context, status=status)
    if secret is not None:
        response["Cache-Control"] = "no-store"
    return response


def _endpoint(request: SignedInHttpRequest, organization_id: str, webhook_id: str) -> Endpoint:
    return endpoint_get(user=request.user, organization_id=organization_id, endpoint_id=webhook_id)


@require_http_methods(["GET"])
@login_required
@page_or_404
def webhook(request: SignedInHttpRequest, organization_id: str, webhook_id: str) -> HttpResponse:
    return _endpoint_page(request, _endpoint(request, organization_id, webhook_id))


@require_POST
@login_required
@page_or_404
def webhook_action(
    request: SignedInHttpRequest, organization_id: str, webhook_id: str, action: str
) -> HttpResponse:
    endpoint = _endpoint(request, organization_id, webhook_id)
    if action == "test":
        endpoint_test(user=request.user, endpoint=endpoint)
        messages.success(request, "Test message queued: see the delivery log below.")
    elif action == "enable":
        endpoint_update(user=request.user, endpoint=endpoint, enabled=True)
        messages.success(request, "Webhook enabled.")
    elif action == "disable":
        endpoint_update(user=request.user, endpoint=endpoint, enabled=False)
        messages.success(request, "Webhook disabled: no events are sent to it.")
    elif action == "rotate-secret":
        secret = endpoint_rotate_secret(user=request.user, endpoint=endpoint)
        return _endpoint_page(request, endpoint, secret=secret)
    elif action == "delete":
        endpoint_delete(user=request.user, endpoint=endpoint)
        messages.success(request, "Webhook deleted.")
        return redirect("web:webhooks", organization_id=organization_id)
    else:
        return render_page(request, "web/not_found.html", {}, status=404)
    return redirect("web:webhook", organization_id=organization_id, webhook_id=endpoint.id)


@require_POST
@login_required
@page_or_404
def webhook_redeliver(
    request: SignedInHttpRequest, organization_id: str, webhook_id: str, delivery_id: str
) -> HttpResponse:
    endpoint = _endpoint(request, organization_id, webhook_id)
    delivery = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    delivery_redeliver(user=request.user, delivery=delivery)
    messages.success(request, "Redelivery queued.")
    return redirect("web:webhook", organization_id=organization_id, webhook_id=endpoint.id)
