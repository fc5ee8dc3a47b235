"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# The database cannot be reached (refused, dropped, timed out, locked): a state that passes,
# answered 503 with Retry-After everywhere, never a 500 as if the request were at fault.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "The service is briefly unavailable; retry shortly."


class ApiError(exceptions.APIException):
    """A domain error with a stable code, raised by services and mapped to an HTTP status."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail=message, code=code or self.default_code)
        if status_code is not None:
            self.status_code = status_code
        self.error_code = code or self.default_code
        self.fields = fields or {}
        # Seconds until asking again may succeed (a 429 or 503 answer's Retry-After).
        self.retry_after = retry_after


class Conflict(ApiError):
    status_code: int = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PayloadTooLarge(ApiError):
    status_code: int = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class ServiceUnavailable(ApiError):
    status_code: int = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested validation detail into ``{"field": ["message", ...]}``."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            fields.update(_flatten_fields(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten_fields(item, f"{prefix}[{index}]"))
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("The request body is too large.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        logger.error("request refused, the database is unavailable: %s", exc)
        exc = ServiceUnavailable(UNAVAILABLE_MESSAGE)

    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.fields)
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", "The request is invalid.", _flatten_fields(exc.detail))
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        body = error_body("not_authenticated", str(exc.detail))
        response.status_code = status.HTTP_401_UNAUTHORIZED
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        body = error_body(code if isinstance(code, str) else exc.default_code, str(exc.detail))
    else:  # pragma: no cover - drf_exception_handler only handles APIException subclasses
        return response
    request = context.get("request")
    if request is not None:
        # Errors are JSON in the one shape whatever the view renders when it succeeds (the
        # SARIF report, the schema's YAML, the docs page) and whatever the client accepts.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    if isinstance(exc, exceptions.Throttled):
        # Always a whole number of seconds, at least one (DRF leaves it out when under 1).
        response["Retry-After"] = str(max(1, math.ceil(getattr(exc, "wait", None) or 1)))
    elif isinstance(exc, ApiError) and exc.retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.data = body
    return response


def _error(request: HttpRequest, status_code: int, code: str, message: str) -> HttpResponse:
    """JSON for the API, a page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status_code)
    template = {404: "web/not_found.html", 503: "web/unavailable.html"}.get(
        status_code, "web/error.html"
    )
    return render(
        request, template, {"status": status_code, "message": message}, status=status_code
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "bad_request", "The request is malformed.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "permission_denied", "You may not do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this while it handles the exception: outside the API views (middleware,
    # pages) an unreachable database is told apart here.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        response = _error(request, 503, "unavailable", UNAVAILABLE_MESSAGE)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return _error(request, 500, "server_error", "Something went wrong on our side.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the form was stale or forged; the reason stays in the logs."""
    return _error(
        request,
        403,
        "csrf_failed",
        "This form has expired or did not come from this site. Reload the page and try again.",
    )
