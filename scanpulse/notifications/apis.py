"""REST endpoints of an organization's outbound webhooks (docs/api.md, docs/integrations.md).

Owners and admins only; another organization's webhook (or an organization one does not
belong to) is a 404. The signing secret is in the answer of a creation and of a rotation,
never again; the destination is shown with its path and query hidden.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.pagination import PageNumberPagination
from scanpulse.core.serializers import SafeCharField, StrictInputSerializer
from scanpulse.tenancy.types import SignedInRequest

from .events import EVENT_CHOICES, SEVERITY_CHOICES, Format
from .models import Delivery, DeliveryState, Endpoint
from .selectors import delivery_get, delivery_list, endpoint_get, endpoint_list
from .services import (
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
    pending_count,
)


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def endpoint_payload(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": str(endpoint.id),
        "organization": str(endpoint.organization_id),
        "name": endpoint.name,
        "url": endpoint.url_shown,
        "format": endpoint.format,
        "events": list(endpoint.events),
        "min_severity": endpoint.min_severity,
        "enabled": endpoint.enabled,
        "disabled_at": _time(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason or None,
        "consecutive_failures": endpoint.consecutive_failures,
        "pending_deliveries": pending_count(endpoint),
        "created_at": _time(endpoint.created_at),
        "updated_at": _time(endpoint.updated_at),
    }


def delivery_payload(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "endpoint": str(delivery.endpoint_id),
        "event": delivery.event,
        "event_id": str(delivery.event_id),
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": _time(delivery.next_attempt_at),
        "last_attempt_at": _time(delivery.last_attempt_at),
        "response_status": delivery.response_status,
        "response_body": delivery.response_body,
        "duration_ms": delivery.duration_ms,
        "error": delivery.error or None,
        "redelivery_of": str(delivery.redelivery_of_id) if delivery.redelivery_of_id else None,
        "created_at": _time(delivery.created_at),
    }


# --- output shapes --------------------------------------------------------------------------


class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization = serializers.UUIDField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="Scheme, host and first path segment; the rest hidden.")
    format = serializers.ChoiceField(choices=Format.choices)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    min_severity = serializers.ChoiceField(
        choices=SEVERITY_CHOICES, help_text="alert.new lists alerts at or above this severity."
    )
    enabled = serializers.BooleanField()
    disabled_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was disabled after failing too often in a row."
    )
    disabled_reason = serializers.CharField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    pending_deliveries = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown this once.")


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret: shown this once.")


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="X-Scanpulse-Delivery: the same for every attempt.")
    endpoint = serializers.UUIDField()
    event = serializers.CharField()
    event_id = serializers.UUIDField(help_text="The body's id: a redelivery keeps it.")
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    response_status = serializers.IntegerField(allow_null=True)
    response_body = serializers.CharField(help_text="The first 2 KiB of the last answer.")
    duration_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    redelivery_of = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


# --- input ----------------------------------------------------------------------------------


@extend_schema_serializer(component_name="WebhookCreate")
class EndpointInputSerializer(StrictInputSerializer):
    name = SafeCharField(max_length=100)
    url = serializers.CharField(max_length=2000, help_text="https:// (or http://) URL.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=20
    )
    format = serializers.ChoiceField(choices=Format.choices, required=False, default=Format.JSON)
    min_severity = serializers.ChoiceField(choices=SEVERITY_CHOICES, required=False, default="high")


@extend_schema_serializer(component_name="WebhookUpdate")
class EndpointUpdateSerializer(EndpointInputSerializer):
    enabled = serializers.BooleanField(
        required=False, help_text="true re-enables a disabled endpoint (its notice is cleared)."
    )


_REFUSALS = {
    403: OpenApiResponse(description="Only owners and admins manage webhooks."),
    404: OpenApiResponse(description="No such organization or webhook of yours."),
}


class WebhookListApi(APIView):
    @extend_schema(responses={200: EndpointOutputSerializer(many=True), **_REFUSALS})
    def get(self, request: SignedInRequest, organization_id: str) -> Response:
        endpoints = endpoint_list(user=request.user, organization_id=organization_id)
        return Response([endpoint_payload(endpoint) for endpoint in endpoints])

    @extend_schema(
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer, 400: None, **_REFUSALS},
    )
    def post(self, request: SignedInRequest, organization_id: str) -> Response:
        # Refuse a caller who may not before looking at the input.
        endpoint_list(user=request.user, organization_id=organization_id)
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = endpoint_create(
            user=request.user, organization_id=organization_id, **serializer.validated_data
        )
        return Response(
            {**endpoint_payload(endpoint), "secret": secret}, status=status.HTTP_201_CREATED
        )


class WebhookDetailApi(APIView):
    @extend_schema(responses={200: EndpointOutputSerializer, **_REFUSALS})
    def get(self, request: SignedInRequest, organization_id: str, webhook_id: str) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        return Response(endpoint_payload(endpoint))

    @extend_schema(
        request=EndpointUpdateSerializer,
        responses={200: EndpointOutputSerializer, 400: None, **_REFUSALS},
    )
    def patch(self, request: SignedInRequest, organization_id: str, webhook_id: str) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        serializer = EndpointUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoint_update(
            user=request.user, endpoint=endpoint, **dict(serializer.validated_data)
        )
        return Response(endpoint_payload(endpoint))

    @extend_schema(responses={204: None, **_REFUSALS})
    def delete(self, request: SignedInRequest, organization_id: str, webhook_id: str) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        endpoint_delete(user=request.user, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(APIView):
    @extend_schema(request=None, responses={200: SecretSerializer, **_REFUSALS})
    def post(self, request: SignedInRequest, organization_id: str, webhook_id: str) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        return Response({"secret": endpoint_rotate_secret(user=request.user, endpoint=endpoint)})


class WebhookTestApi(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutputSerializer, **_REFUSALS})
    def post(self, request: SignedInRequest, organization_id: str, webhook_id: str) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        delivery = endpoint_test(user=request.user, endpoint=endpoint)
        return Response(delivery_payload(delivery), status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(responses={200: DeliveryOutputSerializer(many=True), **_REFUSALS})
    def get(self, request: SignedInRequest, organization_id: str, webhook_id: str) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(delivery_list(endpoint=endpoint), request, view=self)
        return paginator.get_paginated_response(
            [delivery_payload(delivery) for delivery in page or []]
        )


class WebhookDeliveryDetailApi(APIView):
    @extend_schema(responses={200: DeliveryOutputSerializer, **_REFUSALS})
    def get(
        self, request: SignedInRequest, organization_id: str, webhook_id: str, delivery_id: str
    ) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        return Response(delivery_payload(delivery_get(endpoint=endpoint, delivery_id=delivery_id)))


class WebhookRedeliverApi(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutputSerializer, **_REFUSALS})
    def post(
        self, request: SignedInRequest, organization_id: str, webhook_id: str, delivery_id: str
    ) -> Response:
        endpoint = endpoint_get(
            user=request.user, organization_id=organization_id, endpoint_id=webhook_id
        )
        delivery = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        again = delivery_redeliver(user=request.user, delivery=delivery)
        return Response(delivery_payload(again), status=status.HTTP_202_ACCEPTED)
