"""OpenAPI schema post-processing: every error the API can answer, in the one error shape.

Views declare what is particular to them (``409`` of the SARIF report, ``403`` of deleting a
project, ``304`` of polling); the responses every operation can give — credentials missing,
rate limits, malformed or oversized requests, unknown ids — are added here, so the schema
documents exactly the statuses clients see (the API fuzzer checks that it does).
"""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of the API has this shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object",
                    "description": "Messages per invalid input field (empty otherwise).",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
        }
    },
    "required": ["error"],
    "additionalProperties": False,
}

DESCRIPTIONS = {
    "400": "Invalid input: `fields` names every bad field (unknown ones included).",
    "401": "No valid credentials (missing, malformed, unknown or revoked token).",
    "403": "Not allowed for this member (or the CSRF token is missing on a session request).",
    "404": "No such object, or not one of your organizations'.",
    "406": "No representation matches the `Accept` header.",
    "409": "A conflict with the object's state.",
    "413": "The request body is over `SCANPULSE_MAX_BODY_BYTES`.",
    "415": "The body is not `application/json`.",
    "429": "Too many requests; `Retry-After` says when to retry.",
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "The authentication scheme to use.",
        "schema": {"type": "string"},
    }
}

UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    # Anything can be rate limited, needs credentials, may have a malformed or oversized
    # body (the size guard runs before routing) or an Accept header nothing satisfies.
    statuses = {"400", "401", "406", "413", "429"}
    if "{" in path:
        statuses.add("404")
    if method in UNSAFE_METHODS:
        statuses.add("403")  # a browser session without its CSRF token
    if "requestBody" in operation:
        statuses.add("415")
    return statuses


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular ``POSTPROCESSING_HOOKS`` entry."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                responses.setdefault(status, {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if not status.startswith(("4", "5")):
                    continue
                # Errors are always JSON in the one shape, whatever the success type is.
                response["content"] = {"application/json": {"schema": ERROR_REF}}
                if status == "429":
                    response.setdefault("headers", {}).update(RETRY_AFTER)
                elif status == "401":
                    response.setdefault("headers", {}).update(WWW_AUTHENTICATE)
            operation["responses"] = dict(sorted(responses.items()))
    return result
