"""The address a request came from, for the entries the services it calls record.

Set by ``AuditAddressMiddleware`` around every request (pages and API); commands, workers and
schedules record without an address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from scanpulse.core.throttling import client_ip

_address: ContextVar[str | None] = ContextVar("scanpulse_audit_address", default=None)


def current_address() -> str | None:
    return _address.get()


def request_address(request: HttpRequest | None) -> str | None:
    """A request's client address, or None when it is not an IP address."""
    if request is None:
        return None
    address = client_ip(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class AuditAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _address.set(request_address(request))
        try:
            return self.get_response(request)
        finally:
            _address.reset(token)
