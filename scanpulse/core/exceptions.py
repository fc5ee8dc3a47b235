"""The refusals of the domain: what services and selectors raise when they will not do what was
asked.

Each has a stable code and a message safe to show, and may name the input fields at fault
(``{"field": ["message", ...]}``) or when asking again may succeed. They know nothing of HTTP:
the API's exception handler (``scanpulse.core.errors``) answers each with its status and the
one JSON error shape, and the pages (``scanpulse.web.errors``) with a page or a form's errors.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a stable ``code``, a ``message`` for people, the ``fields`` at fault and,
    for a refusal that passes, ``retry_after`` (seconds until asking again may succeed)."""

    default_code = "invalid"
    default_message = "The request is invalid."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = self.default_message if message is None else message
        super().__init__(self.message)
        self.code = code or self.default_code
        self.fields = fields or {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class Invalid(DomainError):
    """The input is not acceptable (``fields`` names what is wrong with it)."""


class NotFound(DomainError):
    """No such object, or not one the caller may see: the two look the same."""

    default_code = "not_found"
    default_message = "Not found."


class Forbidden(DomainError):
    """The caller may see the object but not do this to it."""

    default_code = "permission_denied"
    default_message = "You may not do this."


class Conflict(DomainError):
    """The object's state does not allow this now."""

    default_code = "conflict"
    default_message = "A conflict with the object's state."


class QuotaExceeded(DomainError):
    """The caller has used up what it may have at once; ``retry_after`` says when to ask
    again."""

    default_code = "quota_exceeded"
    default_message = "Too many at once; retry later."


class PayloadTooLarge(DomainError):
    """The request body is over the limit."""

    default_code = "payload_too_large"
    default_message = "The request body is too large."


class Unavailable(DomainError):
    """A state that passes (e.g. the database cannot be reached): retry shortly."""

    default_code = "unavailable"
    default_message = "The service is briefly unavailable; retry shortly."
