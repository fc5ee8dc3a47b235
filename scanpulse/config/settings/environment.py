"""What every settings module starts from: the environment, the data directory, the keys (kept
in the data directory for the embedded mode, mode 0600) and the topology (``REDIS_URL``)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import environ

env = environ.Env()

DATA_DIR = Path(env.str("SCANPULSE_DATA_DIR", default="var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _key_file(path: Path, generate: Callable[[], str]) -> str:
    """The key kept in ``path`` (mode 0600), generated there on first use. Several commands
    starting at once on a fresh data directory all read the one key that won: each writes its
    candidate to a private file and links it into place, which fails if another was first."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(generate())
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_text().strip()


def _embedded_secret_key(data_dir: Path) -> str:
    """Generate the key once and keep it beside the database so sessions survive restarts."""
    return _key_file(data_dir / "secret_key", lambda: secrets.token_urlsafe(50))


SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key(DATA_DIR)


def _embedded_encryption_key(data_dir: Path) -> str:
    """One Fernet key kept beside the database (mode 0600), for the embedded mode only."""
    from cryptography.fernet import Fernet

    return _key_file(data_dir / "encryption_key", lambda: Fernet.generate_key().decode())


# Keys that seal secrets at rest (scanpulse.core.crypto): Fernet keys, newest first.
SCANPULSE_ENCRYPTION_KEYS: list[str] = env.list("SCANPULSE_ENCRYPTION_KEYS", default=[]) or [
    _embedded_encryption_key(DATA_DIR)
]
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

REDIS_URL: str | None = env.str("REDIS_URL", default="") or None
EMBEDDED = REDIS_URL is None
