"""The zero-service default: SQLite, in-process workers, in-memory event bus."""

from .base import *  # noqa: F403
