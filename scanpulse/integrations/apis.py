"""REST endpoints of an organization's inbound webhooks (owners and admins; see docs/api.md):
the URL per host, the deliveries received, and a new secret, shown once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.tenancy.types import SignedInRequest

from .models import Delivery, Outcome
from .parsers import Host
from .selectors import InboundOverview, hook_path, inbound_overview
from .services import inbound_secret_rotate


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    received_at = serializers.DateTimeField()
    host = serializers.ChoiceField(choices=[host.value for host in Host])
    delivery_id = serializers.CharField()
    event = serializers.CharField()
    repository = serializers.CharField()
    ref = serializers.CharField()
    commit = serializers.CharField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    reason = serializers.CharField()
    scans = serializers.ListField(child=serializers.UUIDField())


class HookUrlsSerializer(serializers.Serializer):
    github = serializers.URLField()
    gitlab = serializers.URLField()
    gitea = serializers.URLField()


class InboundOverviewSerializer(serializers.Serializer):
    urls = HookUrlsSerializer()
    has_secret = serializers.BooleanField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    rotated_by = serializers.EmailField(allow_null=True)
    deliveries = DeliverySerializer(many=True)


class InboundSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Shown this once; only its sealed form is kept.")
    urls = HookUrlsSerializer()


def hook_urls(request: Request, organization_id: UUID) -> dict[str, str]:
    return {
        host.value: request.build_absolute_uri(hook_path(organization_id, host)) for host in Host
    }


def delivery_payload(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "received_at": delivery.created_at.isoformat().replace("+00:00", "Z"),
        "host": delivery.host,
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "repository": delivery.repository,
        "ref": delivery.ref,
        "commit": delivery.commit,
        "outcome": delivery.outcome,
        "reason": delivery.reason,
        "scans": [str(scan) for scan in delivery.scans],
    }


def overview_payload(request: Request, overview: InboundOverview) -> dict[str, Any]:
    return {
        "urls": hook_urls(request, overview.organization_id),
        "has_secret": overview.has_secret,
        "rotated_at": (
            None
            if overview.rotated_at is None
            else overview.rotated_at.isoformat().replace("+00:00", "Z")
        ),
        "rotated_by": overview.rotated_by,
        "deliveries": [delivery_payload(delivery) for delivery in overview.deliveries],
    }


class InboundWebhookApi(APIView):
    @extend_schema(responses=InboundOverviewSerializer)
    def get(self, request: SignedInRequest, organization_id: UUID) -> Response:
        overview = inbound_overview(user=request.user, organization_id=organization_id)
        return Response(overview_payload(request, overview))


class InboundSecretApi(APIView):
    @extend_schema(request=None, responses={201: InboundSecretSerializer})
    def post(self, request: SignedInRequest, organization_id: UUID) -> Response:
        secret = inbound_secret_rotate(user=request.user, organization_id=organization_id)
        response = Response(
            {"secret": secret, "urls": hook_urls(request, organization_id)},
            status=status.HTTP_201_CREATED,
        )
        response["Cache-Control"] = "no-store"
        return response
