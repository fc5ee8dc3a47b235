"""Request guards that must run before any view reads the body."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .errors import error_body


class RequestSizeLimitMiddleware:
    """Answer 413 for bodies over the limit before anything reads them.

    Django's own check raises a 400 on access; clients deserve the precise status, and the
    body is never buffered.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.SCANPULSE_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                error_body("bad_request", "Content-Length is not a number."), status=400
            )
        if length > limit:
            return JsonResponse(
                error_body(
                    "payload_too_large",
                    f"The request body is too large (limit {limit} bytes).",
                ),
                status=413,
            )
        return self.get_response(request)
