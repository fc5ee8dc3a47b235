"""REST endpoints for projects."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.pagination import PageNumberPagination
from scanpulse.core.serializers import QuerySerializer, SafeCharField, StrictInputSerializer
from scanpulse.pipeline.coverage import GATE_SEVERITIES
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.selectors import organization_list
from scanpulse.tenancy.types import SignedInRequest

from .fields import RefField, RepoUrlField
from .gate import QualityGate
from .models import Project
from .selectors import project_get, project_list
from .services import project_create, project_delete, project_update

# A project's default configuration: well under the request body limit (and the repository
# file's own 256 KiB), so that the largest one allowed can be sent.
MAX_SCAN_CONFIG_CHARS = 64 * 1024


class OpenAlertsLimitSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=GATE_SEVERITIES)
    count = serializers.IntegerField(min_value=0)


@extend_schema_serializer(component_name="QualityGatePolicy")
class GatePolicySerializer(serializers.Serializer):
    """A project's quality gate (``scanpulse.projects.gate``): each condition is off when null
    or false. Documents the shape; the domain checks it."""

    no_new_alerts_at_or_above = serializers.ChoiceField(choices=GATE_SEVERITIES, allow_null=True)
    no_secrets = serializers.BooleanField()
    no_fixable_dependency_alerts_older_than_days = serializers.IntegerField(
        min_value=0, allow_null=True
    )
    max_open_alerts = OpenAlertsLimitSerializer(allow_null=True)
    require_complete = serializers.BooleanField()


class ProjectOutputSerializer(serializers.ModelSerializer):
    gate_policy = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "organization",
            "name",
            "repo_url",
            "default_branch",
            "scan_config",
            "gate_policy",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(GatePolicySerializer)
    def get_gate_policy(self, project: Project) -> dict[str, Any]:
        return QualityGate.from_stored(project.gate_policy).to_json()


class ProjectListApi(APIView):
    pagination_class = PageNumberPagination  # documents the page envelope and its parameters

    @extend_schema_serializer(component_name="ProjectCreate")
    class InputSerializer(StrictInputSerializer):
        organization = serializers.UUIDField(required=False)
        name = SafeCharField(max_length=100, trim_whitespace=True)
        repo_url = RepoUrlField(max_length=2048, trim_whitespace=False)
        default_branch = RefField(max_length=255, required=False, default="main")

    class FilterSerializer(QuerySerializer):
        organization = serializers.UUIDField(required=False)
        repo_url = serializers.CharField(required=False, max_length=2048, trim_whitespace=False)

    @extend_schema(parameters=[FilterSerializer], responses=ProjectOutputSerializer(many=True))
    def get(self, request: SignedInRequest) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        projects = project_list(
            user=request.user, organization_id=filters.validated_data.get("organization")
        )
        if "repo_url" in filters.validated_data:
            projects = projects.filter(repo_url=filters.validated_data["repo_url"])
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(projects, request, view=self)
        return paginator.get_paginated_response(ProjectOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ProjectOutputSerializer})
    def post(self, request: SignedInRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = _organization_for(request, data.pop("organization", None))
        project = project_create(user=request.user, organization=organization, **data)
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


def _organization_for(request: SignedInRequest, organization_id: Any) -> Organization:
    """The organization named in the request, or the caller's only one."""
    organizations = organization_list(user=request.user)
    if organization_id is not None:
        organization = organizations.filter(pk=organization_id).first()
        if organization is None:
            raise serializers.ValidationError({"organization": ["Unknown organization."]})
        return organization
    candidates = list(organizations[:2])
    if len(candidates) != 1:
        raise serializers.ValidationError(
            {"organization": ["Required: you belong to several organizations (or none)."]}
        )
    return candidates[0]


class ProjectDetailApi(APIView):
    @extend_schema_serializer(component_name="ProjectUpdate")
    class UpdateSerializer(StrictInputSerializer):
        name = SafeCharField(max_length=100, required=False)
        repo_url = RepoUrlField(max_length=2048, required=False, trim_whitespace=False)
        default_branch = RefField(max_length=255, required=False)
        scan_config = serializers.CharField(
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            max_length=MAX_SCAN_CONFIG_CHARS,
            help_text="Default scan configuration (.scanpulse.toml format), used by scans of a "
            "repository without one. Owners and admins only.",
        )
        gate_policy = serializers.JSONField(
            required=False,
            help_text="Conditions of the quality gate to change (owners and admins only); "
            "those not named stay as they were, null turns one off. See QualityGatePolicy.",
        )

    @extend_schema(responses=ProjectOutputSerializer)
    def get(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        return Response(ProjectOutputSerializer(project).data)

    @extend_schema(
        request=UpdateSerializer,
        responses={
            200: ProjectOutputSerializer,
            403: OpenApiResponse(
                description="Only owners and admins can change a project's repository, "
                "scan configuration or quality gate."
            ),
        },
    )
    def patch(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        serializer = self.UpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = project_update(
            user=request.user, project=project, changes=dict(serializer.validated_data)
        )
        return Response(ProjectOutputSerializer(project).data)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(description="Only owners and admins can delete projects."),
        }
    )
    def delete(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        project_delete(user=request.user, project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)
