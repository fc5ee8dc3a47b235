"""Response headers of every page, and the sign-in throttle.

The Content-Security-Policy lets scripts, styles and connections come from this origin only,
and no inline script, handler or style runs: markup that slipped through escaping could
neither execute nor load anything. It applies to every HTML response — the pages, the admin,
the API docs (Swagger UI is served from this origin, see ``api_docs``) and error pages,
including those produced by the middleware below this one (a refused ``Host`` header, a CSRF
failure) — together with frame denial, ``nosniff`` and the referrer policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from scanpulse.core.middleware import SECURITY_HEADERS
from scanpulse.core.throttling import client_ip, login_failures, login_failures_per_address
from scanpulse.tenancy.types import User

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    """Sits just inside ``SecurityMiddleware`` so that it sees every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in SECURITY_HEADERS.items():
            if name not in response:
                response[name] = value
        if (
            response.get("Content-Type", "").startswith("text/html")
            and "Content-Security-Policy" not in response
        ):
            response["Content-Security-Policy"] = POLICY
        return response


# --- sign-in throttle ------------------------------------------------------------------------

_FAILURES_ATTRIBUTE = "_scanpulse_login_failure"


def _account(username: Any) -> str:
    """The account a sign-in names, as stored (email addresses are kept in lower case)."""
    return str(username or "").strip().lower()


def _login_paths() -> frozenset[str]:
    return frozenset({reverse("web:login"), reverse("admin:login")})


class LoginThrottleMiddleware:
    """Refuse sign-ins after too many failures (``SCANPULSE_LOGIN_FAILURE_RATE`` per account
    and address, ``SCANPULSE_LOGIN_ADDRESS_FAILURE_RATE`` per address across accounts) with a
    429 page that says so and when to retry, before the password is even checked.

    Failures are counted from Django's ``user_login_failed`` signal, so every form that signs
    people in (the site's and the admin's) counts; a successful sign-in clears its account's
    count for that address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in _login_paths():
            return self.get_response(request)
        account = _account(request.POST.get("username"))
        address = client_ip(request)
        wait = _blocked_for(account, address)
        if wait is not None:
            return _refused(request, wait)
        response = self.get_response(request)
        if getattr(request, _FAILURES_ATTRIBUTE, False):
            wait = _blocked_for(account, address)
            if wait is not None:  # this failure was the last one allowed
                return _refused(request, wait)
        return response


def _blocked_for(account: str, address: str) -> float | None:
    waits = [
        login_failures().blocked_for(account, address),
        login_failures_per_address().blocked_for(address),
    ]
    known = [wait for wait in waits if wait is not None]
    return max(known) if known else None


def _refused(request: HttpRequest, wait: float) -> HttpResponse:
    from .forms import LoginForm

    minutes = max(1, math.ceil(wait / 60))
    context = {
        # Unbound: the password is not checked, the email stays filled in.
        "form": LoginForm(request, initial={"username": request.POST.get("username", "")}),
        "next": request.POST.get("next", ""),
        "refusal": "Too many failed sign-in attempts. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
    }
    response = render(request, "web/login.html", context, status=429)
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


@receiver(user_login_failed)
def _count_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    if request is None:
        return
    address = client_ip(request)
    login_failures().record(_account(credentials.get("username")), address)
    login_failures_per_address().record(address)
    setattr(request, _FAILURES_ATTRIBUTE, True)


@receiver(user_logged_in)
def _clear_failures(sender: Any, request: Any = None, user: User | None = None, **_: Any) -> None:
    if request is not None and user is not None:
        login_failures().reset(_account(user.get_username()), client_ip(request))
