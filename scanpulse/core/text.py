"""Text that every database can store."""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """``value`` with NUL characters replaced, in strings, lists and dict keys and values.

    PostgreSQL rejects NUL in text and JSON; analyzers read arbitrary files and can report it.
    """
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value
