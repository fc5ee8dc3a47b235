"""The types of the people code acts for, so that mypy checks every ``user`` it is given.

Services and selectors take a ``User``: an account. A request's user may also be nobody
(``AnonymousUser``, or ``None`` for DRF here); the views that call them let only accounts
through (``login_required``, ``IsAuthenticated``) and say so with the request types below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.contrib.auth.models import User as _AccountModel
from django.http import HttpRequest
from rest_framework.request import Request

# An account: the user model (``AUTH_USER_MODEL``, Django's own).
User: TypeAlias = _AccountModel


if TYPE_CHECKING:

    class SignedInHttpRequest(HttpRequest):
        """A page's request that ``login_required`` let through: its user is an account."""

        user: User

    class SignedInRequest(Request):
        """An API request that authentication and ``IsAuthenticated`` let through."""

        user: User

else:
    SignedInHttpRequest = HttpRequest
    SignedInRequest = Request
