"""Text that every database can store, and names that show what they are."""

from __future__ import annotations

import unicodedata
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


# Characters that change how the text around them looks without being seen themselves:
# bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), zero-width
# characters (U+200B-U+200D, U+2060, U+FEFF) and every other format character (category Cf),
# controls (Cc), surrogates (Cs), line and paragraph separators, and the Hangul fillers,
# letters that render as nothing. A name holding one can pass for another name.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")


def hidden_character(value: str) -> str | None:
    """The first character of ``value`` that is invisible or reorders text, if any."""
    for char in value:
        if char in _FILLERS or unicodedata.category(char) in _HIDDEN_CATEGORIES:
            return char
    return None


def hidden_character_message(char: str) -> str:
    return f"Invisible and text-direction characters are not allowed (U+{ord(char):04X} found)."


def validate_visible_text(value: str) -> None:
    """Model field validator (the admin's forms): see ``hidden_character``."""
    from django.core.exceptions import ValidationError

    char = hidden_character(value)
    if char is not None:
        raise ValidationError(hidden_character_message(char), code="hidden_character")
