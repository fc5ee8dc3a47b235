"""The SARIF upload endpoint: any tool's SARIF 2.1.0 report as a new scan of a project."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.exceptions import Invalid
from scanpulse.core.parsers import RawBodyParser
from scanpulse.projects.selectors import project_get
from scanpulse.tenancy.types import SignedInRequest

from .apis import ScanOutputSerializer
from .sarif_upload import scan_create_from_sarif


class SarifParser(RawBodyParser):
    """A SARIF JSON body (checked by ``sarif_upload.check_report``)."""

    media_type = "application/sarif+json"
    limit_setting = "SCANPULSE_SARIF_MAX_BYTES"


class JsonSarifParser(SarifParser):
    media_type = "application/json"


class ProjectSarifApi(APIView):
    """Upload a SARIF 2.1.0 report as a new scan of the project."""

    parser_classes = [SarifParser, JsonSarifParser, parsers.MultiPartParser]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "ref", str, description="What the scan is filed under (default sarif/<tool>)."
            ),
            OpenApiParameter(
                "root",
                str,
                description="The absolute directory the tool ran in: absolute paths under it "
                "are made relative to it.",
            ),
        ],
        request={
            "application/sarif+json": {"type": "object"},
            "application/json": {"type": "object"},
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "ref": {"type": "string"},
                    "root": {"type": "string"},
                },
            },
        },
        responses={
            201: ScanOutputSerializer,
            400: OpenApiResponse(
                description="Not JSON, not valid SARIF 2.1.0, several tools in one report, or "
                "a path outside the repository."
            ),
            413: OpenApiResponse(description="Larger than SCANPULSE_SARIF_MAX_BYTES."),
        },
        description="Starts a scan of an uploaded SARIF 2.1.0 report of any tool (no "
        "repository needed): its results become findings of that tool, fingerprinted, "
        "triaged and gated like native ones.",
    )
    def post(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        data = _uploaded(request)
        form: Any = request.data if hasattr(request.data, "get") else {}
        scan = scan_create_from_sarif(
            user=request.user,
            project=project,
            data=data,
            ref=request.query_params.get("ref") or form.get("ref") or None,
            root=request.query_params.get("root") or form.get("root") or "",
        )
        return Response(ScanOutputSerializer(scan).data, status=201)


def _uploaded(request: Request) -> bytes:
    data = request.data
    if isinstance(data, bytes):
        return data
    upload = request.FILES.get("file") if hasattr(request, "FILES") else None
    if upload is None:
        raise Invalid(
            "Send the SARIF report as the request body (application/sarif+json) or as the "
            "file field of a multipart form.",
            fields={"file": ["No report sent."]},
        )
    content: bytes = upload.read(settings.SCANPULSE_SARIF_MAX_BYTES + 1)
    return content
