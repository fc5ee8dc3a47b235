"""REST endpoints for a project's alerts and their triage (see docs/api.md and
docs/triage.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.pagination import ListingPagination
from scanpulse.core.serializers import QuerySerializer, StrictInputSerializer
from scanpulse.core.text import hidden_character, hidden_character_message
from scanpulse.projects.models import Project
from scanpulse.projects.selectors import project_get
from scanpulse.tenancy.types import SignedInRequest

from .models import SEVERITY_CHOICES, Alert, DismissalReason, TriageAction
from .payloads import alert_payload, triage_action_payload
from .selectors import ORDERINGS, SHOWN_STATES, alert_get, alert_list, dismissals_of, triage_history
from .services import (
    BULK_ACTIONS,
    MAX_BULK,
    MAX_COMMENT,
    alerts_dismiss,
    alerts_reopen,
    alerts_triage,
)

# --- output shapes (documented here, built by ``.payloads``) --------------------------------


class SeenSerializer(serializers.Serializer):
    scan = serializers.UUIDField()
    commit_sha = serializers.CharField()
    at = serializers.DateTimeField()


class DismissalSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=DismissalReason.choices)
    comment = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    by = serializers.EmailField(allow_null=True)
    at = serializers.DateTimeField()


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    project = serializers.UUIDField()
    ref = serializers.CharField()
    fingerprint = serializers.CharField()
    state = serializers.ChoiceField(choices=SHOWN_STATES)
    tool = serializers.CharField()
    rule_id = serializers.CharField()
    severity = serializers.ChoiceField(choices=SEVERITY_CHOICES)
    path = serializers.CharField()
    start_line = serializers.IntegerField(allow_null=True)
    end_line = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    dismissal = DismissalSerializer(allow_null=True)
    first_seen = SeenSerializer()
    last_seen = SeenSerializer()
    fixed_at = serializers.DateTimeField(allow_null=True)
    fixed_in_scan = serializers.UUIDField(allow_null=True)
    closed_reason = serializers.CharField(
        allow_null=True,
        help_text="Why an excluded or superseded alert is closed (the configuration rule, the "
        "analyzer turned off, the grouped alert); null otherwise.",
    )


class TriageActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=TriageAction.Kind.choices)
    reason = serializers.ChoiceField(choices=DismissalReason.choices, allow_null=True)
    comment = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    by = serializers.EmailField(
        allow_null=True,
        help_text="Null: the system (an expiry, the repository, a scan's configuration).",
    )
    at = serializers.DateTimeField()


class AlertDetailSerializer(AlertOutputSerializer):
    history = TriageActionSerializer(many=True, help_text="Triage actions, newest first.")


class BulkTriageOutputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    count = serializers.IntegerField()
    alerts = AlertOutputSerializer(many=True)


# --- input ----------------------------------------------------------------------------------


class CommentField(serializers.CharField):
    """Free text over several lines: newlines and tabs, but no other control character, and
    no invisible or text-direction character."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=MAX_COMMENT, allow_blank=True, required=False, default="", **kwargs
        )

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        hidden = hidden_character(value.replace("\n", "").replace("\t", ""))
        if hidden is not None:
            raise serializers.ValidationError(hidden_character_message(hidden))
        return value


@extend_schema_serializer(component_name="AlertDismiss")
class DismissInputSerializer(StrictInputSerializer):
    reason = serializers.ChoiceField(choices=DismissalReason.choices)
    comment = CommentField()
    expires_at = serializers.DateTimeField(
        allow_null=True,
        required=False,
        default=None,
        help_text="Required for accepted_risk; in the future. Null: never expires.",
    )


@extend_schema_serializer(component_name="AlertReopen")
class ReopenInputSerializer(StrictInputSerializer):
    comment = CommentField()


@extend_schema_serializer(component_name="AlertBulkTriage")
class BulkTriageInputSerializer(StrictInputSerializer):
    alerts = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=MAX_BULK)
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    reason = serializers.ChoiceField(choices=DismissalReason.choices, required=False)
    comment = CommentField()
    expires_at = serializers.DateTimeField(allow_null=True, required=False, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "dismiss" and "reason" not in attrs:
            raise serializers.ValidationError({"reason": ["Required to dismiss."]})
        if attrs["action"] == "reopen" and ("reason" in attrs or attrs.get("expires_at")):
            raise serializers.ValidationError(
                {"action": ["Reopening takes a comment only, no reason or expiry."]}
            )
        return attrs


# --- views ----------------------------------------------------------------------------------


def _payloads(project: Project, alerts: list[Alert]) -> list[dict[str, Any]]:
    dismissals = dismissals_of(
        project_id=project.id, fingerprints=[alert.fingerprint for alert in alerts]
    )
    return [alert_payload(alert, dismissals.get(alert.fingerprint)) for alert in alerts]


def _detail(project: Project, alert_id: Any) -> dict[str, Any]:
    alert = alert_get(project=project, alert_id=alert_id)
    body = _payloads(project, [alert])[0]
    body["history"] = [triage_action_payload(action) for action in triage_history(alert=alert)]
    return body


class AlertListApi(APIView):
    pagination_class = ListingPagination

    class FilterSerializer(QuerySerializer):
        state = serializers.ChoiceField(choices=SHOWN_STATES, required=False)
        severity = serializers.ChoiceField(
            choices=SEVERITY_CHOICES,
            required=False,
            help_text="A minimum: high lists critical and high.",
        )
        tool = serializers.CharField(max_length=50, required=False)
        rule = serializers.CharField(max_length=200, required=False)
        path = serializers.CharField(
            max_length=1024,
            required=False,
            help_text="A glob with fnmatch's rules: * and ? also match '/'; [abc], [!abc].",
        )
        ref = serializers.CharField(max_length=255, required=False)
        q = serializers.CharField(
            max_length=200, required=False, help_text="Text in the message, the path or the rule."
        )
        ordering = serializers.ChoiceField(
            choices=ORDERINGS,
            required=False,
            default=ORDERINGS[0],
            help_text="severity (most severe first, then path and line), path, last_seen, "
            "first_seen; '-' for newest first.",
        )

    @extend_schema(parameters=[FilterSerializer], responses=AlertOutputSerializer(many=True))
    def get(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        alerts = alert_list(project=project, **filters.validated_data)
        paginator = ListingPagination()
        page = paginator.paginate_queryset(alerts, request, view=self)
        return paginator.get_paginated_response(_payloads(project, list(page or [])))


class AlertDetailApi(APIView):
    @extend_schema(responses=AlertDetailSerializer)
    def get(self, request: SignedInRequest, project_id: str, alert_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        return Response(_detail(project, alert_id))


_REFUSALS = {
    400: OpenApiResponse(description="Invalid input (e.g. an accepted risk without expiry)."),
    403: OpenApiResponse(description="Viewers may not triage."),
}


class AlertDismissApi(APIView):
    @extend_schema(
        request=DismissInputSerializer, responses={200: AlertDetailSerializer, **_REFUSALS}
    )
    def post(self, request: SignedInRequest, project_id: str, alert_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        alert = alert_get(project=project, alert_id=alert_id)
        serializer = DismissInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alerts_dismiss(
            user=request.user, project=project, alerts=[alert], **serializer.validated_data
        )
        return Response(_detail(project, alert.id))


class AlertReopenApi(APIView):
    @extend_schema(
        request=ReopenInputSerializer, responses={200: AlertDetailSerializer, **_REFUSALS}
    )
    def post(self, request: SignedInRequest, project_id: str, alert_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        alert = alert_get(project=project, alert_id=alert_id)
        serializer = ReopenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alerts_reopen(
            user=request.user, project=project, alerts=[alert], **serializer.validated_data
        )
        return Response(_detail(project, alert.id))


class AlertBulkTriageApi(APIView):
    """Dismiss or reopen up to 500 alerts at once, all or none: an id that is not an alert of
    the project refuses the whole request (400, naming the ids)."""

    @extend_schema(
        request=BulkTriageInputSerializer,
        responses={200: BulkTriageOutputSerializer, **_REFUSALS},
    )
    def post(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        serializer = BulkTriageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        alerts = alerts_triage(
            user=request.user,
            project=project,
            alert_ids=data["alerts"],
            action=data["action"],
            reason=data.get("reason"),
            comment=data["comment"],
            expires_at=data["expires_at"],
        )
        fresh = list(alert_list(project=project).filter(pk__in=[alert.id for alert in alerts]))
        return Response(
            {"action": data["action"], "count": len(fresh), "alerts": _payloads(project, fresh)}
        )
