"""REST endpoints for scans, their findings, and the polling side of live progress."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.utils.http import parse_etags
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.exceptions import Conflict
from scanpulse.core.pagination import ListingPagination, PageNumberPagination
from scanpulse.core.serializers import QuerySerializer, StrictInputSerializer
from scanpulse.projects.fields import RefField
from scanpulse.projects.selectors import project_list
from scanpulse.tenancy.types import SignedInRequest

from .gate_apis import GapSerializer, GateVerdictSerializer
from .models import Confidence, Finding, FindingStatus, Scan, ScanReport, ScanStatus, Severity
from .payloads import (
    finding_payload,
    new_in_pull_request,
    scan_coverage,
    scan_payload,
    user_email,
)
from .polling import events_page, status_etag
from .resume import MAX_CURSOR, InvalidCursor, parse_cursor
from .selectors import finding_list, scan_get, scan_list
from .services import scan_cancel, scan_create
from .snapshot import SNAPSHOT_FIELDS, snapshot_payload


class ScanOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    cancelled_by = serializers.SerializerMethodField()
    last_event_id = serializers.IntegerField(source="last_event_seq", read_only=True)
    complete = serializers.SerializerMethodField(
        help_text="Whether the completed scan looked at everything (null until it completed)."
    )
    gaps = serializers.SerializerMethodField(
        help_text="What the completed scan did not look at, and why (at most 100; see gap_count)."
    )
    gap_count = serializers.SerializerMethodField()
    gate = serializers.SerializerMethodField(
        help_text="The project's quality gate on the scan (null until it finished)."
    )
    new_in_pull_request = serializers.SerializerMethodField(
        help_text="Findings new against the base branch's latest completed scan (scans of a "
        "pull request or given a base_ref; null otherwise and until completed)."
    )
    compared_with = serializers.UUIDField(
        read_only=True,
        allow_null=True,
        help_text="The completed scan the findings were classified against.",
    )
    base_ref = serializers.CharField(read_only=True, allow_null=True)
    pull_request = serializers.JSONField(read_only=True, allow_null=True)
    compared_with_ref = serializers.CharField(read_only=True, allow_null=True)
    requested_commit = serializers.CharField(read_only=True, allow_null=True)
    started_by = serializers.CharField(
        read_only=True, allow_null=True, help_text="What started a scan no user requested."
    )

    class Meta:
        model = Scan
        fields = [
            "id",
            "project",
            "organization",
            "ref",
            "commit_sha",
            "status",
            "progress",
            "step",
            "findings_count",
            "created_at",
            "started_at",
            "finished_at",
            "requested_by",
            "cancelled_by",
            "error_message",
            "summary",
            "attempt",
            "last_event_id",
            "complete",
            "gaps",
            "gap_count",
            "gate",
            "base_ref",
            "pull_request",
            "compared_with",
            "compared_with_ref",
            "new_in_pull_request",
            "requested_commit",
            "trigger",
            "started_by",
        ]

    def to_representation(self, scan: Scan) -> dict[str, Any]:
        # The fields describe the shape in the schema; the one definition of the values is
        # the domain's, which the command line's local mode prints too.
        return scan_payload(scan)

    # Typed for the schema (the answer comes from ``scan_payload``).
    def get_requested_by(self, scan: Scan) -> str | None:
        return user_email(scan.requested_by)

    def get_complete(self, scan: Scan) -> bool | None:
        coverage = scan_coverage(scan)
        return None if coverage is None else coverage.complete

    @extend_schema_field(GapSerializer(many=True))
    def get_gaps(self, scan: Scan) -> list[dict[str, Any]]:
        coverage = scan_coverage(scan)
        return [] if coverage is None else coverage.gaps

    def get_gap_count(self, scan: Scan) -> int:
        coverage = scan_coverage(scan)
        return 0 if coverage is None else coverage.total

    def get_cancelled_by(self, scan: Scan) -> str | None:
        return user_email(scan.cancelled_by)

    @extend_schema_field(GateVerdictSerializer(allow_null=True))
    def get_gate(self, scan: Scan) -> dict[str, Any] | None:
        return scan.gate

    def get_new_in_pull_request(self, scan: Scan) -> int | None:
        return new_in_pull_request(scan)


class FindingOutputSerializer(serializers.ModelSerializer):
    cwe = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text='The weaknesses the finding is an instance of, as CWE ids ("CWE-89").',
    )

    class Meta:
        model = Finding
        fields = [
            "id",
            "tool",
            "rule_id",
            "severity",
            "confidence",
            "path",
            "start_line",
            "end_line",
            "message",
            "fingerprint",
            "status",
            "dismissed_reason",
            "cwe",
            "properties",
        ]

    def to_representation(self, finding: Finding) -> dict[str, Any]:
        return finding_payload(finding)


class ScanListApi(APIView):
    pagination_class = PageNumberPagination  # documents the page envelope and its parameters

    @extend_schema_serializer(component_name="ScanCreate")
    class InputSerializer(StrictInputSerializer):
        project = serializers.UUIDField()
        ref = RefField(max_length=255, required=False)
        base_ref = RefField(
            max_length=255,
            required=False,
            help_text="Compare the findings with this branch's latest completed scan (a pull "
            "request's target): its new findings are those new in the pull request.",
        )

    class FilterSerializer(QuerySerializer):
        project = serializers.UUIDField(required=False)
        organization = serializers.UUIDField(required=False)
        status = serializers.ChoiceField(choices=ScanStatus.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=ScanOutputSerializer(many=True))
    def get(self, request: SignedInRequest) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        scans = scan_list(
            user=request.user,
            project_id=filters.validated_data.get("project"),
            organization_id=filters.validated_data.get("organization"),
            status=filters.validated_data.get("status"),
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(scans, request, view=self)
        return paginator.get_paginated_response(ScanOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ScanOutputSerializer})
    def post(self, request: SignedInRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = (
            project_list(user=request.user).filter(pk=serializer.validated_data["project"]).first()
        )
        if project is None:
            raise serializers.ValidationError({"project": ["Unknown project."]})
        scan = scan_create(
            user=request.user,
            project=project,
            ref=serializer.validated_data.get("ref"),
            base_ref=serializer.validated_data.get("base_ref"),
        )
        return Response(ScanOutputSerializer(scan).data, status=status.HTTP_201_CREATED)


class ScanDetailApi(APIView):
    @extend_schema(responses=ScanOutputSerializer)
    def get(self, request: SignedInRequest, scan_id: str) -> Response:
        return Response(ScanOutputSerializer(scan_get(user=request.user, scan_id=scan_id)).data)


class ScanCancelApi(APIView):
    @extend_schema(request=None, responses=ScanOutputSerializer)
    def post(self, request: SignedInRequest, scan_id: str) -> Response:
        scan = scan_get(user=request.user, scan_id=scan_id)
        scan = scan_cancel(user=request.user, scan=scan)
        return Response(ScanOutputSerializer(scan).data)


class ScanFindingsApi(APIView):
    pagination_class = ListingPagination

    class FilterSerializer(QuerySerializer):
        severity = serializers.ChoiceField(choices=Severity.choices, required=False)
        tool = serializers.CharField(max_length=50, required=False)
        status = serializers.ChoiceField(choices=FindingStatus.choices, required=False)
        confidence = serializers.ChoiceField(choices=Confidence.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=FindingOutputSerializer(many=True))
    def get(self, request: SignedInRequest, scan_id: str) -> Response:
        scan = scan_get(user=request.user, scan_id=scan_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        findings = finding_list(
            scan=scan,
            severity=data.get("severity"),
            tool=data.get("tool"),
            status=data.get("status"),
        )
        if data.get("confidence"):
            findings = findings.filter(confidence=data["confidence"])
        paginator = ListingPagination()
        page = paginator.paginate_queryset(findings, request, view=self)
        return paginator.get_paginated_response(FindingOutputSerializer(page, many=True).data)


# Documents ``snapshot.snapshot_payload`` (which builds the responses) from the same fields.
class SnapshotSerializer(serializers.ModelSerializer):
    scan = serializers.UUIDField(source="id", read_only=True)
    summary = serializers.DictField(read_only=True)  # a JSON object, not any JSON value
    last_event_id = serializers.IntegerField(source="last_event_seq", read_only=True)

    class Meta:
        model = Scan
        fields = ("scan", *SNAPSHOT_FIELDS, "last_event_id")
        read_only_fields = fields


class ScanStatusApi(APIView):
    """A JSON snapshot for polling. Every change of the snapshot is an event, so the newest
    event number is a complete validator."""

    @extend_schema(responses={200: SnapshotSerializer, 304: None})
    def get(self, request: SignedInRequest, scan_id: str) -> Response:
        scan = scan_get(user=request.user, scan_id=scan_id)
        etag = status_etag(scan.id, scan.last_event_seq)
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(snapshot_payload(scan))
        response["ETag"] = etag
        response["Cache-Control"] = "no-cache"
        return response


class EventSerializer(serializers.Serializer):
    scan = serializers.UUIDField()
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    time = serializers.DateTimeField()
    data = serializers.DictField()  # type: ignore[assignment]


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    last_event_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ScanStatus.choices)
    terminal = serializers.BooleanField()
    reset = serializers.BooleanField()
    snapshot = SnapshotSerializer(allow_null=True)


class CursorField(serializers.IntegerField):
    """An event number as the streams read ``Last-Event-ID``: ASCII digits only (DRF's integer
    field also takes ``+3``, ``3.0``, ``3_000``, `` 3`` and other scripts' digits)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=MAX_CURSOR, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        try:
            return parse_cursor(data if isinstance(data, str) else "")
        except InvalidCursor:
            raise serializers.ValidationError("An event number: decimal digits 0-9.") from None


class ScanEventsApi(APIView):
    """The scan's events after a position, numbered as over SSE: a client can switch between
    the two without losing or repeating anything."""

    class FilterSerializer(QuerySerializer):
        after = CursorField(required=False, default=0)
        limit = serializers.IntegerField(min_value=1, max_value=500, required=False, default=100)

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Return events numbered above this."),
            OpenApiParameter("limit", int, description="At most this many (1–500)."),
        ],
        responses=EventPageSerializer,
    )
    def get(self, request: SignedInRequest, scan_id: str) -> Response:
        scan = scan_get(user=request.user, scan_id=scan_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        after: int = filters.validated_data["after"]
        limit: int = filters.validated_data["limit"]
        return Response(events_page(scan, after, limit))


class SarifRenderer(renderers.BaseRenderer):
    """Negotiates ``application/sarif+json``; errors on this route are still JSON."""

    media_type = "application/sarif+json"
    format = "sarif"
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode()


CHUNK_BYTES = 64 * 1024


def _blob_chunks(blob: bytes) -> Iterator[bytes]:
    view = memoryview(blob)
    for start in range(0, len(view), CHUNK_BYTES):
        yield bytes(view[start : start + CHUNK_BYTES])


def _inflated_chunks(blob: bytes) -> Iterator[bytes]:
    with gzip.GzipFile(fileobj=io.BytesIO(blob)) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Each step is a bounded slice of work on bytes in memory: no I/O blocks the loop.
    for chunk in chunks:
        yield chunk


def _streamed(request: Request, chunks: Iterator[bytes]) -> Iterator[bytes] | AsyncIterator[bytes]:
    """Under ASGI, Django drains a synchronous iterator into a list before sending the first
    byte (the whole inflated report in memory); an asynchronous one is sent as it goes."""
    return _async_chunks(chunks) if isinstance(request._request, ASGIRequest) else chunks


class ScanSarifApi(APIView):
    """The scan's SARIF 2.1.0 report, streamed (gzip-encoded when the client accepts it)."""

    renderer_classes = [renderers.JSONRenderer, SarifRenderer]

    @extend_schema(
        responses={
            (200, "application/sarif+json"): {"type": "object"},
            409: OpenApiResponse(description="The scan has not completed: no report yet."),
        },
        description="SARIF 2.1.0 report of a completed scan.",
    )
    def get(self, request: SignedInRequest, scan_id: str) -> StreamingHttpResponse:
        scan = scan_get(user=request.user, scan_id=scan_id)
        report = ScanReport.objects.filter(scan=scan).first()
        if report is None:
            raise Conflict(
                f"The scan is {scan.status}; its report exists once it has completed.",
                code="report_not_ready",
            )
        blob = bytes(report.sarif_gzip)
        accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
        response = StreamingHttpResponse(
            _streamed(request, _blob_chunks(blob) if accepts_gzip else _inflated_chunks(blob)),
            content_type="application/sarif+json",
        )
        if accepts_gzip:
            response["Content-Encoding"] = "gzip"
            response["Content-Length"] = str(len(blob))
        else:
            response["Content-Length"] = str(report.size)
        response["Vary"] = "Accept-Encoding"
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", scan.project.name).strip("-") or "project"
        response["Content-Disposition"] = f'attachment; filename="{name}-{str(scan.id)[:8]}.sarif"'
        return response
