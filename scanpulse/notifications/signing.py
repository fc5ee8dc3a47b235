"""Signing secrets and signatures of deliveries.

A receiver verifies ``X-Scanpulse-Signature: t=<unix time>,v1=<hex>``: the HMAC-SHA256, keyed
with the endpoint's secret, of ``<t>.<body>`` (the raw body bytes), compared in constant time,
and refuses a ``t`` too far from its own clock (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SIGNATURE_HEADER = "X-Scanpulse-Signature"


def new_secret() -> str:
    """A new signing secret: 32 random bytes, URL-safe base64, with a recognizable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (and the documentation shows): True if ``header`` signs ``body``
    with ``secret`` and its time is within ``tolerance`` seconds of ``now``."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
