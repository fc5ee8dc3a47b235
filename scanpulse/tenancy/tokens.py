"""Token format and hashing, kept free of the ORM so the stream path can share it."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "spt_"  # noqa: S105 - a label, not a secret
_SECRET_BYTES = 30


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def token_digest(token: str) -> str:
    """Tokens carry 240 random bits, so a fast hash is enough; lookups go by digest only,
    which keeps the check's timing independent of how much of a guess matched."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_bearer(header: str | bytes | None) -> str | None:
    """The token from an ``Authorization: Bearer …`` header, or None if absent or malformed."""
    if not header:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    if not value or " " in value or len(value) > 200:
        return None
    return value
