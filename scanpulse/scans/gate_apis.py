"""The quality gate of a finished scan over the API: ``GET /api/scans/{id}/gate``, and the
shapes of a verdict (also part of a scan's answer)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.exceptions import Conflict
from scanpulse.core.serializers import QuerySerializer
from scanpulse.pipeline.coverage import (
    GAP_KINDS,
    GATE_SEVERITIES,
    Coverage,
    GatePolicy,
    gate_verdict,
)
from scanpulse.projects.apis import GatePolicySerializer
from scanpulse.tenancy.types import SignedInRequest

from .gate import scan_gate
from .models import ScanStatus
from .selectors import gate_matching_count, scan_get


class GapSerializer(serializers.Serializer):
    """Something a completed scan did not look at, and why."""

    analyzer = serializers.CharField(allow_null=True)
    path = serializers.CharField(allow_null=True)
    kind = serializers.ChoiceField(choices=GAP_KINDS)
    reason = serializers.CharField()


class GateConditionSerializer(serializers.Serializer):
    """One condition of the project's quality gate, as a scan met it or not."""

    condition = serializers.CharField()
    passed = serializers.BooleanField()
    count = serializers.IntegerField(
        help_text="Alerts (distinct fingerprints) that count against it; gaps for require_complete."
    )
    message = serializers.CharField()
    findings = serializers.ListField(
        child=serializers.UUIDField(), help_text="The scan's findings at fault (at most 100)."
    )
    alerts = serializers.ListField(
        child=serializers.UUIDField(), help_text="The project's alerts at fault (at most 100)."
    )


@extend_schema_serializer(component_name="QualityGateVerdict")
class GateVerdictSerializer(serializers.Serializer):
    """The verdict of the project's quality gate on a finished scan, stored when it finished."""

    passed = serializers.BooleanField()
    policy = GatePolicySerializer(
        allow_null=True, help_text="The policy evaluated (null: the scan did not complete)."
    )
    reasons = serializers.ListField(child=serializers.CharField())
    conditions = GateConditionSerializer(many=True)
    matching = serializers.IntegerField(
        required=False,
        help_text="Alerts (distinct fingerprints) the failed conditions count, each once.",
    )
    evaluated_at = serializers.DateTimeField()


class GateOutputSerializer(serializers.Serializer):
    scan = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ScanStatus.choices)
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["project", "query"],
        help_text="project: the project's quality gate, as stored when the scan finished; "
        "query: the fail_on, new_only and allow_incomplete given.",
    )
    fail_on = serializers.ChoiceField(choices=GATE_SEVERITIES, allow_null=True)
    new_only = serializers.BooleanField()
    allow_incomplete = serializers.BooleanField()
    passed = serializers.BooleanField()
    matching = serializers.IntegerField(
        help_text="Findings that count against the gate (dismissed ones never do); with the "
        "project's gate, the alerts (distinct fingerprints) its failed conditions count, an "
        "alert failing two conditions once."
    )
    complete = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    policy = GatePolicySerializer(
        allow_null=True, help_text="The project's policy evaluated (null with source query)."
    )
    conditions = GateConditionSerializer(many=True)
    gaps = GapSerializer(many=True)
    gap_count = serializers.IntegerField()


def verdict_matching(verdict: dict[str, Any]) -> int:
    """The alerts a stored verdict's failed conditions count, each once. Verdicts stored before
    they kept the number: the distinct alerts the failed conditions name (every one of them when
    none names more than it keeps), else the largest count of one condition (at least that many)."""
    stored = verdict.get("matching")
    if isinstance(stored, int) and not isinstance(stored, bool):
        return stored
    failed = [
        condition
        for condition in verdict.get("conditions") or []
        if not condition.get("passed") and condition.get("condition") != "require_complete"
    ]
    counts = [int(condition.get("count") or 0) for condition in failed]
    named = {alert for condition in failed for alert in condition.get("alerts") or []}
    if all(
        count <= len(condition.get("alerts") or [])
        for count, condition in zip(counts, failed, strict=True)
    ):
        return len(named)
    return max(counts, default=0)


class ScanGateApi(APIView):
    """The verdict of a quality gate on a finished scan, for CI systems that do not run the
    command line. Without parameters: the project's quality gate, as stored when the scan
    finished (what ``scanpulse scan --server`` exits with). With ``fail_on``, ``new_only`` or
    ``allow_incomplete``: those, evaluated now, the same rule as ``scanpulse scan
    --fail-on``."""

    QUERY = ("fail_on", "new_only", "allow_incomplete")

    class FilterSerializer(QuerySerializer):
        fail_on = serializers.ChoiceField(choices=GATE_SEVERITIES, required=False)
        new_only = serializers.BooleanField(required=False, default=False)
        allow_incomplete = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        parameters=[FilterSerializer],
        responses={
            200: GateOutputSerializer,
            409: OpenApiResponse(description="The scan has not finished: no verdict yet."),
        },
    )
    def get(self, request: SignedInRequest, scan_id: str) -> Response:
        scan = scan_get(user=request.user, scan_id=scan_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        if not scan.is_terminal:
            raise Conflict(
                f"The scan is {scan.status}; its gate has a verdict once it has finished.",
                code="scan_not_finished",
            )
        completed = scan.status == ScanStatus.COMPLETED
        coverage = Coverage.from_summary(scan.summary if completed else None)
        body: dict[str, Any] = {
            "scan": scan.id,
            "status": scan.status,
            "complete": coverage.complete if completed else False,
            "gaps": coverage.gaps if completed else [],
            "gap_count": coverage.total if completed else 0,
        }
        if not any(name in request.query_params for name in self.QUERY):
            stored = scan_gate(scan)
            conditions = stored.get("conditions") or []
            return Response(
                body
                | {
                    "source": "project",
                    "fail_on": None,
                    "new_only": False,
                    "allow_incomplete": False,
                    "passed": bool(stored.get("passed")),
                    "matching": verdict_matching(stored),
                    "reasons": list(stored.get("reasons") or []),
                    "policy": stored.get("policy"),
                    "conditions": conditions,
                }
            )
        policy = GatePolicy(
            fail_on=filters.validated_data.get("fail_on"),
            new_only=filters.validated_data["new_only"],
            allow_incomplete=filters.validated_data["allow_incomplete"],
        )
        verdict = gate_verdict(
            policy,
            status=scan.status,
            coverage=coverage,
            matching=gate_matching_count(scan=scan, policy=policy) if completed else 0,
        )
        return Response(
            body
            | {
                "source": "query",
                "fail_on": policy.fail_on,
                "new_only": policy.new_only,
                "allow_incomplete": policy.allow_incomplete,
                **verdict.to_dict(),
                "policy": None,
                "conditions": [],
            }
        )
