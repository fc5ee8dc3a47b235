"""What people see when something goes wrong: the one place the domain's refusals and
Django's errors become pages.

A page that asks for an object answers the not-found page for ``NotFound`` (another
organization's object looks exactly like a missing one); a form shows the refusals about its
input (``FORM_REFUSALS``) beside its fields, with the status the API would answer. Django's
own error views (``handler400`` … ``handler500``, ``CSRF_FAILURE_VIEW``) answer JSON in the
API's one shape under ``/api/`` and a page everywhere else.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from scanpulse.core.errors import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_MESSAGE,
    error_body,
    http_status,
    retry_after_header,
)
from scanpulse.core.exceptions import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
)

from .pages import render_page

View = Callable[..., HttpResponseBase]

# Refusals about what a form asked for (a duplicate name, a full queue): shown on the form's
# page, not as an error page.
FORM_REFUSALS: tuple[type[DomainError], ...] = (Invalid, Conflict, QuotaExceeded, Forbidden)


def page_or_404(view: View) -> View:
    """Answer a page's 404 (another organization's object looks exactly like a missing one),
    and the error page's 403 for an action the caller's role may not take."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except (NotFound, Http404):
            return render_page(request, "web/not_found.html", {}, status=404)
        except Forbidden as error:
            return _error(request, 403, error.code, error.message)

    return wrapper


def refused_form_page(response: HttpResponse, error: DomainError) -> HttpResponse:
    """The form's page, showing ``error``, answered with the refusal's status (and when to
    retry, for a refusal that passes)."""
    response.status_code = http_status(error)
    if error.retry_after is not None:
        response["Retry-After"] = retry_after_header(error.retry_after)
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
