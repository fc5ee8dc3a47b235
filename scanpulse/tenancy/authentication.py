"""DRF authentication: bearer API tokens for clients, the Django session for the browser."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from scanpulse.audit.context import request_address
from scanpulse.core.throttling import auth_failures, client_ip

from .models import ApiToken, TokenScope
from .services import token_authenticate
from .tokens import parse_bearer


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many failed authentication attempts from your address."
    extra_detail_singular = "Retry in {wait} second."
    extra_detail_plural = "Retry in {wait} seconds."
    default_code = "too_many_failures"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``. An address that keeps presenting tokens that do not
    exist is refused for a while (429) before any lookup: guessing costs it time, not us."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        failures = auth_failures()
        address = client_ip(request)
        wait = failures.blocked_for(address)
        if wait is not None:
            raise TooManyFailures(wait=wait)
        token = parse_bearer(header)
        api_token = (
            token_authenticate(token=token, address=request_address(request))
            if token is not None
            else None
        )
        if api_token is None:
            failures.record(address)
            if token is None:
                raise exceptions.AuthenticationFailed("Malformed Authorization header.")
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return api_token.user, api_token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="scanpulse"'


class ReadScopeWritesNothing(permissions.BasePermission):
    """A token of the read scope is refused every unsafe method, whatever the route."""

    message = "This token's scope (read) does not allow changes."

    def has_permission(self, request: Request, view: Any) -> bool:
        api_token = request.auth
        if isinstance(api_token, ApiToken) and api_token.scope == TokenScope.READ:
            return request.method in permissions.SAFE_METHODS
        return True


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF enforced on unsafe methods (as DRF does)."""
