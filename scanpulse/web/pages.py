"""How every page is rendered: with the organization switcher of the header."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from scanpulse.tenancy.types import SignedInHttpRequest

from .organizations import organization_choice


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render a page with the organization switcher of the header."""
    if "organizations" not in context and request.user.is_authenticated:
        # Signed in: the request's user is an account.
        context["organizations"] = organization_choice(cast(SignedInHttpRequest, request))
    return render(request, template, context, status=status)
