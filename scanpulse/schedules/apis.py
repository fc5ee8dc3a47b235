"""REST endpoints for a project's schedules: ``/api/projects/{id}/schedules/``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.pagination import PageNumberPagination
from scanpulse.core.serializers import StrictInputSerializer
from scanpulse.projects.fields import RefField
from scanpulse.projects.selectors import project_get
from scanpulse.tenancy.types import SignedInRequest

from .models import IntervalPeriod, RunOutcome, ScheduleKind
from .payloads import schedule_payload
from .selectors import schedule_get, schedule_list
from .services import schedule_create, schedule_delete, schedule_update

_MANAGERS_ONLY = OpenApiResponse(description="Only owners and admins can manage schedules.")


@extend_schema_serializer(component_name="Schedule")
class ScheduleOutputSerializer(serializers.Serializer):
    """Documents the shape of ``scanpulse.schedules.payloads.schedule_payload``."""

    id = serializers.UUIDField()
    project = serializers.UUIDField()
    ref = serializers.CharField()
    kind = serializers.ChoiceField(choices=ScheduleKind.choices)
    cron = serializers.CharField(allow_null=True)
    every = serializers.IntegerField(allow_null=True)
    period = serializers.ChoiceField(choices=IntervalPeriod.choices, allow_null=True)
    timezone = serializers.CharField(help_text="IANA time zone of the cron expression.")
    enabled = serializers.BooleanField()
    description = serializers.CharField()
    next_run_at = serializers.DateTimeField(allow_null=True, help_text="UTC; null if disabled.")
    next_run_local = serializers.CharField(
        allow_null=True, help_text="The next run on the schedule's own wall clock (ISO 8601)."
    )
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_outcome = serializers.ChoiceField(choices=RunOutcome.choices, allow_null=True)
    last_message = serializers.CharField(allow_null=True)
    last_scan = serializers.UUIDField(allow_null=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class _ScheduleInput(StrictInputSerializer):
    ref = RefField(max_length=255, required=False)
    kind = serializers.ChoiceField(choices=ScheduleKind.choices)
    cron = serializers.CharField(
        max_length=200, required=False, help_text="Five fields: minute hour day month weekday."
    )
    every = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    period = serializers.ChoiceField(choices=IntervalPeriod.choices, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    enabled = serializers.BooleanField(required=False)


@extend_schema_serializer(component_name="ScheduleCreate")
class ScheduleCreateSerializer(_ScheduleInput):
    pass


@extend_schema_serializer(component_name="ScheduleUpdate")
class ScheduleUpdateSerializer(_ScheduleInput):
    kind = serializers.ChoiceField(choices=ScheduleKind.choices, required=False)


class ScheduleListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(responses=ScheduleOutputSerializer(many=True))
    def get(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(schedule_list(project=project), request, view=self)
        return paginator.get_paginated_response([schedule_payload(item) for item in page])

    @extend_schema(
        request=ScheduleCreateSerializer,
        responses={201: ScheduleOutputSerializer, 403: _MANAGERS_ONLY},
    )
    def post(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        serializer = ScheduleCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = schedule_create(user=request.user, project=project, **serializer.validated_data)
        return Response(schedule_payload(schedule), status=status.HTTP_201_CREATED)


class ScheduleDetailApi(APIView):
    @extend_schema(responses=ScheduleOutputSerializer)
    def get(self, request: SignedInRequest, project_id: str, schedule_id: str) -> Response:
        return Response(schedule_payload(_schedule(request, project_id, schedule_id)))

    @extend_schema(
        request=ScheduleUpdateSerializer,
        responses={200: ScheduleOutputSerializer, 403: _MANAGERS_ONLY},
    )
    def patch(self, request: SignedInRequest, project_id: str, schedule_id: str) -> Response:
        schedule = _schedule(request, project_id, schedule_id)
        serializer = ScheduleUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes: dict[str, Any] = dict(serializer.validated_data)
        schedule = schedule_update(user=request.user, schedule=schedule, changes=changes)
        return Response(schedule_payload(schedule))

    @extend_schema(responses={204: None, 403: _MANAGERS_ONLY})
    def delete(self, request: SignedInRequest, project_id: str, schedule_id: str) -> Response:
        schedule_delete(user=request.user, schedule=_schedule(request, project_id, schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _schedule(request: SignedInRequest, project_id: str, schedule_id: str) -> Any:
    project = project_get(user=request.user, project_id=project_id)
    return schedule_get(project=project, schedule_id=schedule_id)
