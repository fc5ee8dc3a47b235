"""Server-Sent Events wire format (WHATWG HTML, "server-sent events").

Every frame is built here. Field values that end up on an ``id:`` or ``event:`` line cannot
carry CR, LF or NUL (they would end the field early or be ignored by the client), and data is
split on every line terminator the spec recognises, so no payload can inject fields.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
# CR/LF end a field early, NUL makes clients ignore an id; surrogates cannot be UTF-8.
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00\ud800-\udfff]")


def clean_field(value: str) -> str:
    """A value safe for an ``id:`` or ``event:`` line."""
    return _FORBIDDEN_IN_FIELD.sub("", value)


def dumps_payload(payload: Any) -> str:
    """JSON for a ``data:`` field: compact UTF-8, escaping only what UTF-8 cannot carry."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only \\u escapes survive UTF-8
        text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text


def encode_event(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    lines: list[str] = []
    if event is not None:
        lines.append(f"event: {clean_field(event)}")
    if id is not None:
        lines.append(f"id: {clean_field(id)}")
    lines.extend(f"data: {line}" for line in _LINE_BREAKS.split(data))
    # Raw text with lone surrogates cannot be UTF-8; JSON payloads never reach this path
    # with them (``dumps_payload`` escapes them), so replacing is only a last resort.
    return ("\n".join(lines) + "\n\n").encode("utf-8", "replace")


def encode_json_event(payload: Any, *, event: str, id: str) -> bytes:
    return encode_event(dumps_payload(payload), event=event, id=id)


def encode_comment(text: str = "") -> bytes:
    return b"".join(f": {line}\n".encode() for line in _LINE_BREAKS.split(text)) + b"\n"


def encode_retry_field(milliseconds: int) -> bytes:
    """A ``retry:`` line to put in front of an event's fields (it does not end a block)."""
    return f"retry: {max(0, int(milliseconds))}\n".encode()
