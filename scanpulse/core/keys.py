"""Keys derived for one purpose each, so that no process is handed more than it needs."""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac

_ID_KEY_PURPOSE = "scanpulse.secret-id-key"


def secret_id_key() -> bytes:
    """The deployment's key for identifying secrets found in code (see
    ``scanpulse.analyzers.redaction``).

    Derived from ``SCANPULSE_SECRET_ID_KEY`` or, unset, from ``SECRET_KEY``, under a label of
    its own: analyzer processes receive this key, never ``SECRET_KEY`` itself. Every worker of
    a deployment must derive the same key, or identities of secrets would change between scans.
    """
    return derive_secret_id_key(settings.SCANPULSE_SECRET_ID_KEY or settings.SECRET_KEY)


def derive_secret_id_key(base: str) -> bytes:
    """The secret identifier key derived from ``base``, a configured key or ``SECRET_KEY``."""
    return salted_hmac(_ID_KEY_PURPOSE, b"", secret=base, algorithm="sha256").digest()
