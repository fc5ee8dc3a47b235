"""The SBOM endpoints: a completed scan's dependency inventory as CycloneDX 1.6 or SPDX 2.3
JSON, and an uploaded CycloneDX SBOM as the source of a new scan of a project."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.exceptions import Invalid
from scanpulse.core.parsers import RawBodyParser
from scanpulse.projects.selectors import project_get
from scanpulse.tenancy.types import SignedInRequest

from .apis import ScanOutputSerializer
from .sbom import CONTENT_TYPES, FORMATS, sbom_document, sbom_filename, scan_create_from_sbom
from .selectors import scan_get


class _DocumentRenderer(renderers.BaseRenderer):
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode()


class CycloneDxRenderer(_DocumentRenderer):
    """Negotiates CycloneDX (``?format=cyclonedx``); errors on the route are still JSON."""

    media_type = CONTENT_TYPES["cyclonedx"]
    format = "cyclonedx"


class SpdxRenderer(_DocumentRenderer):
    media_type = CONTENT_TYPES["spdx"]
    format = "spdx"


class ScanSbomApi(APIView):
    """A completed scan's dependency inventory as an SBOM."""

    renderer_classes = [renderers.JSONRenderer, CycloneDxRenderer, SpdxRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(FORMATS),
                description="cyclonedx (CycloneDX 1.6 JSON, the default) or spdx (SPDX 2.3 JSON).",
            )
        ],
        responses={
            (200, CONTENT_TYPES["cyclonedx"]): {"type": "object"},
            (200, CONTENT_TYPES["spdx"]): {"type": "object"},
            400: OpenApiResponse(description="Unknown format, or the scan has not completed."),
        },
        description="The dependency inventory of a completed scan as an SBOM.",
    )
    def get(self, request: SignedInRequest, scan_id: str) -> HttpResponse:
        scan = scan_get(user=request.user, scan_id=scan_id)
        kind = request.query_params.get("format") or "cyclonedx"
        document = sbom_document(scan, kind)
        response = HttpResponse(document.encode(), content_type=CONTENT_TYPES[kind])
        response["Content-Disposition"] = f'attachment; filename="{sbom_filename(scan, kind)}"'
        return response


class SbomParser(RawBodyParser):
    """A CycloneDX JSON body (checked by ``sbom.check_upload``)."""

    media_type = "application/vnd.cyclonedx+json"
    limit_setting = "SCANPULSE_SBOM_MAX_BYTES"


class JsonSbomParser(SbomParser):
    media_type = "application/json"


class ProjectSbomApi(APIView):
    """Upload a CycloneDX SBOM as the source of a new scan of the project."""

    parser_classes = [SbomParser, JsonSbomParser, parsers.MultiPartParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("ref", str, description="What the scan is filed under (default sbom).")
        ],
        request={
            "application/vnd.cyclonedx+json": {"type": "object"},
            "application/json": {"type": "object"},
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={201: ScanOutputSerializer},
        description="Starts a scan of an uploaded CycloneDX JSON SBOM (no repository needed): "
        "its components with a package URL are checked against advisories like a manifest.",
    )
    def post(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        scan = scan_create_from_sbom(
            user=request.user,
            project=project,
            data=_uploaded(request),
            ref=request.query_params.get("ref") or None,
        )
        return Response(ScanOutputSerializer(scan).data, status=201)


def _uploaded(request: Request) -> bytes:
    data = request.data
    if isinstance(data, bytes):
        return data
    upload = request.FILES.get("file") if hasattr(request, "FILES") else None
    if upload is None:
        raise Invalid(
            "Send the SBOM as the request body (application/vnd.cyclonedx+json) or as the "
            "file field of a multipart form.",
            fields={"file": ["No SBOM sent."]},
        )
    content: bytes = upload.read(settings.SCANPULSE_SBOM_MAX_BYTES + 1)
    return content
