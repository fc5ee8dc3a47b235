"""``GET /api/advisories/``: what is loaded, from where, how fresh (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.tenancy.types import SignedInRequest

from .selectors import advisory_status


class _DatasetSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # the data's name
    records = serializers.IntegerField()
    loaded_at = serializers.DateTimeField(help_text="The last change.")
    from_feed = serializers.BooleanField(help_text="Kept up to date by the OSV feed sync.")


class _EcosystemSerializer(serializers.Serializer):
    ecosystem = serializers.CharField()
    records = serializers.IntegerField(help_text="Records of its export loaded.")
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_changed_at = serializers.DateTimeField(allow_null=True)
    source_url = serializers.CharField()
    last_error = serializers.CharField(allow_null=True)
    problem_count = serializers.IntegerField(
        help_text="What the loaded export could not use: records skipped, ranges ignored, "
        "listed versions not matched (docs/dependencies.md)."
    )
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="The first 20 of them, one line each."
    )
    synced = serializers.BooleanField(help_text="In SCANPULSE_OSV_ECOSYSTEMS.")


@extend_schema_serializer(component_name="AdvisoryStatus")
class AdvisoryStatusSerializer(serializers.Serializer):
    """Documents the shape of ``scanpulse.feeds.selectors.advisory_status``."""

    dataset = _DatasetSerializer(allow_null=True)
    sync_interval_hours = serializers.IntegerField(help_text="0: no automatic sync.")
    ecosystems = _EcosystemSerializer(many=True)


class AdvisoryStatusApi(APIView):
    @extend_schema(responses=AdvisoryStatusSerializer)
    def get(self, request: SignedInRequest) -> Response:
        return Response(advisory_status(user=request.user))
