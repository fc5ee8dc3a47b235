"""Secrets at rest: what scanpulse must read back later (repository credentials, webhook
signing secrets) is stored sealed with Fernet (AES-128-CBC with HMAC-SHA256, from the
``cryptography`` package), never in clear.

Keys come from ``SCANPULSE_ENCRYPTION_KEYS`` (Fernet keys, comma-separated, newest first):
the first seals, every one of them opens, so a key is rotated by putting a new one first,
re-sealing what is stored (``scanpulse reencrypt``) and then dropping the old one. The
embedded mode, unconfigured, keeps one generated key in ``SCANPULSE_DATA_DIR`` (file mode
0600) beside the database; production refuses to start without the setting.

Columns holding sealed values register themselves (``register_sealed``) so the re-sealing
command finds every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SealError(RuntimeError):
    """A sealed value no configured key opens (a key was dropped before re-sealing)."""


@dataclass(frozen=True)
class SealedColumn:
    """A model column (``app_label.Model``, field name) that holds sealed values."""

    model: str
    field: str


_SEALED: list[SealedColumn] = []


def register_sealed(model: str, field: str) -> None:
    """Declare that ``model``'s ``field`` holds sealed values (for ``reencrypt``)."""
    column = SealedColumn(model, field)
    if column not in _SEALED:
        _SEALED.append(column)


def sealed_columns() -> list[SealedColumn]:
    return list(_SEALED)


@cache
def _keys(configured: tuple[str, ...]) -> MultiFernet:
    if not configured:
        raise SealError("No encryption key is configured (SCANPULSE_ENCRYPTION_KEYS).")
    try:
        return MultiFernet([Fernet(key.encode()) for key in configured])
    except ValueError as error:
        raise SealError(
            "SCANPULSE_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes)."
        ) from error


def _fernet() -> MultiFernet:
    return _keys(tuple(settings.SCANPULSE_ENCRYPTION_KEYS))


def seal(plaintext: str) -> str:
    """``plaintext`` sealed with the newest key, as text for a database column."""
    return _fernet().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    """The clear value of a sealed ``token``; ``SealError`` if no configured key opens it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SealError(
            "A stored secret could not be decrypted with any configured key "
            "(SCANPULSE_ENCRYPTION_KEYS): was a key removed before `scanpulse reencrypt` ran?"
        ) from error


def reseal(token: str) -> str:
    """``token`` sealed again with the newest key (the value itself never leaves here)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise SealError(
            "A stored secret could not be decrypted with any configured key."
        ) from error


def generate_key() -> str:
    """A new random Fernet key, for ``SCANPULSE_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()
