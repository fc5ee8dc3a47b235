"""The Content-Security-Policy of the pages.

Scripts, styles and connections come from this origin only, and no inline script, handler or
style runs: markup that slipped through escaping could neither execute nor load anything.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

# The interactive API docs bootstrap Swagger UI from a CDN with an inline script.
EXEMPT_PATH_PREFIXES = ("/api/docs/",)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.get("Content-Type", "").startswith("text/html")
            and "Content-Security-Policy" not in response
            and not request.path.startswith(EXEMPT_PATH_PREFIXES)
        ):
            response["Content-Security-Policy"] = POLICY
        return response
