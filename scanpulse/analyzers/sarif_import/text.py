"""Text taken from an uploaded report, made safe to keep and show: no control characters, capped
in length, links only over HTTP(S)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str, limit: int) -> str:
    """Plain text: no control characters (newlines and tabs kept), at most ``limit`` chars."""
    cleaned = _CONTROL.sub("", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def text_of(message: Any, limit: int) -> str:
    if not isinstance(message, dict):
        return ""
    text = message.get("text")
    return plain(text, limit) if isinstance(text, str) else ""


def http_uri(value: Any) -> str:
    try:
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
            return plain(value, 500)
    except ValueError:
        pass
    return ""
