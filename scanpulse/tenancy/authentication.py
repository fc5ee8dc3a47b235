"""DRF authentication: bearer API tokens for clients, the Django session for the browser."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .services import token_authenticate
from .tokens import parse_bearer


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        token = parse_bearer(header)
        if token is None:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        api_token = token_authenticate(token=token)
        if api_token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return api_token.user, api_token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="scanpulse"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF enforced on unsafe methods (as DRF does)."""
