"""Single sign-on pages: the start of a sign-in at the identity provider, its return, a clear
page when it refuses, and sign-out (also at the provider, when it offers that).

The flow is ``mozilla-django-oidc``'s (authorization code with PKCE, state and nonce kept in
the session); the provider and the account rules are ``scanpulse.tenancy.sso``'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from scanpulse.core.exceptions import Unavailable
from scanpulse.tenancy.sso import (
    PROVIDER_ATTRIBUTE,
    provider_config,
    provider_endpoints,
    refusal_of,
    sso_enabled,
)

_SSO_SESSION_KEY = "scanpulse_sso"
# How much of a provider's own error text a page repeats.
_PROVIDER_TEXT_LIMIT = 300


def _refused(
    request: HttpRequest, reason: str, *, status: int = 403, detail: str = ""
) -> HttpResponse:
    return render(
        request,
        "web/sso_refused.html",
        {"reason": reason, "detail": detail[:_PROVIDER_TEXT_LIMIT]},
        status=status,
    )


class SsoStart(OIDCAuthenticationRequestView):
    """Send the browser to the provider (the deployment's, or with ``?organization=ID`` that
    organization's own) with a fresh state, nonce and PKCE challenge."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get_settings(self, attr: str, *args: Any) -> Any:
        if attr == "OIDC_RP_SCOPES":
            return self.config.scopes
        return import_from_settings(attr, *args)

    def get(self, request: HttpRequest) -> HttpResponse:
        organization = request.GET.get("organization", "")
        config = provider_config(organization)
        if config is None:
            raise Http404("Single sign-on is not set up.")
        self.config = config
        self.OIDC_RP_CLIENT_ID = config.client_id
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider_endpoints(config.issuer).authorization
        except Unavailable as exc:
            return _refused(request, exc.message, status=503)
        response: HttpResponse = super().get(request)
        # Remember which provider this state is for: the callback asks that one.
        state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
        request.session["oidc_states"][state]["provider"] = config.organization_id
        request.session.modified = True
        return response


class SsoCallback(OIDCAuthenticationCallbackView):
    """The provider's answer: an error, or a code exchanged for the person's identity."""

    def get(self, request: HttpRequest) -> HttpResponse:
        states = request.session.get("oidc_states") or {}
        state = request.GET.get("state", "")
        known = state in states
        provider = str(states[state].get("provider", "")) if known else ""
        if not sso_enabled() and not (known and provider_config(provider)):
            raise Http404("Single sign-on is not set up.")
        setattr(request, PROVIDER_ATTRIBUTE, provider)
        if request.GET.get("error"):
            super().get(request)  # forgets the state and signs out, as the library does
            return _refused(
                request,
                "Your identity provider refused the sign-in.",
                detail=str(request.GET.get("error_description") or request.GET["error"]),
            )
        if not known or "code" not in request.GET:
            return _refused(
                request,
                "This sign-in could not be verified: it was not started in this browser, or it "
                "was already used. Start again.",
                status=400,
            )
        response: HttpResponse = super().get(request)
        return response

    def login_success(self) -> HttpResponse:
        response: HttpResponse = super().login_success()
        self.request.session[_SSO_SESSION_KEY] = {
            "provider": getattr(self.request, PROVIDER_ATTRIBUTE, "")
        }
        return response

    def login_failure(self) -> HttpResponse:
        return _refused(
            self.request, refusal_of(self.request) or "Single sign-on did not sign you in."
        )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out here; after a single sign-on, offer to sign out at the provider too (a link:
    the page's policy lets forms post to this site only)."""
    sso = request.session.get(_SSO_SESSION_KEY)
    auth.logout(request)
    config = provider_config(str(sso.get("provider", ""))) if isinstance(sso, dict) else None
    if config is None:
        return HttpResponseRedirect(reverse(settings.LOGOUT_REDIRECT_URL))
    provider_logout = None
    try:
        end_session = provider_endpoints(config.issuer).end_session
    except Unavailable:
        end_session = None
    if end_session:
        query = urlencode(
            {
                "client_id": config.client_id,
                "post_logout_redirect_uri": request.build_absolute_uri(
                    reverse(settings.LOGOUT_REDIRECT_URL)
                ),
            }
        )
        provider_logout = f"{end_session}{'&' if '?' in end_session else '?'}{query}"
    return render(request, "web/signed_out.html", {"provider_logout": provider_logout})
