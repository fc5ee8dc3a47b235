"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"}}``, and
the HTTP status of each refusal of the domain (``scanpulse.core.exceptions``)."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .exceptions import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    Unavailable,
)

logger = logging.getLogger(__name__)

# The database cannot be reached (refused, dropped, timed out, locked): a state that passes,
# answered 503 with Retry-After everywhere, never a 500 as if the request were at fault.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = Unavailable.default_message


# What each refusal of the domain answers over HTTP (a subclass answers as its nearest listed
# ancestor); the API's handler below and the pages both read it.
HTTP_STATUS: dict[type[DomainError], int] = {
    Invalid: status.HTTP_400_BAD_REQUEST,
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    PayloadTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    QuotaExceeded: status.HTTP_429_TOO_MANY_REQUESTS,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def http_status(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return status.HTTP_400_BAD_REQUEST


def retry_after_header(seconds: float) -> str:
    """Always a whole number of seconds, at least one."""
    return str(max(1, math.ceil(seconds)))


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
    """``REST_FRAMEWORK["EXCEPTION_HANDLER"]``: the domain's refusals, DRF's and Django's own
    exceptions, all answered in the one shape."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("The request body is too large.")
    elif isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DATABASE_UNAVAILABLE):
        logger.error("request refused, the database is unavailable: %s", exc)
        exc = Unavailable(retry_after=RETRY_AFTER_SECONDS)

    from rest_framework.views import exception_handler as drf_exception_handler
    from rest_framework.views import set_rollback

    response: Response | None
    if isinstance(exc, DomainError):
        set_rollback()
        response = Response(status=http_status(exc))
        body = error_body(exc.code, exc.message, exc.fields)
        if exc.retry_after is not None:
            response["Retry-After"] = retry_after_header(exc.retry_after)
    else:
        response = drf_exception_handler(exc, context)
        if response is None:
            return None
        if isinstance(exc, exceptions.ValidationError):
            body = error_body("invalid", "The request is invalid.", _flatten_fields(exc.detail))
        elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            body = error_body("not_authenticated", str(exc.detail))
            response.status_code = status.HTTP_401_UNAUTHORIZED
        elif isinstance(exc, exceptions.APIException):
            code = exc.get_codes()
            body = error_body(code if isinstance(code, str) else exc.default_code, str(exc.detail))
        else:  # pragma: no cover - drf_exception_handler only handles APIException subclasses
            return response
        if isinstance(exc, exceptions.Throttled):
            # DRF leaves Retry-After out when the wait is under a second.
            response["Retry-After"] = retry_after_header(getattr(exc, "wait", None) or 1)
    request = context.get("request")
    if request is not None:
        # Errors are JSON in the one shape whatever the view renders when it succeeds (the
        # SARIF report, the schema's YAML, the docs page) and whatever the client accepts.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    response.data = body
    return response
