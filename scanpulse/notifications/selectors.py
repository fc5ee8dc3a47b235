"""Reads of webhook endpoints and their deliveries, for owners and admins only (see
``scanpulse.tenancy.permissions``: a destination may be a credential)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from scanpulse.core.exceptions import NotFound
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import Delivery, Endpoint

WEBHOOK_NOT_FOUND = "Webhook not found."


def webhook_organization(*, user: User, organization_id: Any) -> Organization:
    """The organization, if ``user`` may manage its webhooks (``NotFound`` for one they do not
    belong to, ``Forbidden`` for a role that may not)."""
    require_member(user=user, organization_id=organization_id, action=Action.WEBHOOK_MANAGE)
    return Organization.objects.get(pk=organization_id)


def endpoint_list(*, user: User, organization_id: Any) -> QuerySet[Endpoint]:
    organization = webhook_organization(user=user, organization_id=organization_id)
    return Endpoint.objects.filter(organization=organization).order_by("name", "created_at")


def endpoint_get(*, user: User, organization_id: Any, endpoint_id: Any) -> Endpoint:
    organization = webhook_organization(user=user, organization_id=organization_id)
    endpoint = Endpoint.objects.filter(organization=organization, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(WEBHOOK_NOT_FOUND)
    return endpoint


def delivery_list(*, endpoint: Endpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def delivery_get(*, endpoint: Endpoint, delivery_id: Any) -> Delivery:
    delivery = Delivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()
    if delivery is None:
        raise NotFound("Delivery not found.")
    return delivery
