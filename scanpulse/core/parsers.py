"""Request body parsing with a nesting limit.

Python's JSON decoder recurses once per nesting level: a small body of ``[[[[…]]]]`` makes it
raise ``RecursionError`` (a 500, and a thread's stack spent), and deep documents are never
what this API takes (its inputs are flat objects). The depth is measured on the raw text before
anything is decoded, in linear time, so a hostile body costs one pass over at most
``SCANPULSE_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A string, escapes included; one that never ends runs to the end of the body (so no byte is
# scanned twice, whatever the input).
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(data: bytes) -> int:
    """How deeply a JSON decoder would nest reading this text: the most arrays and objects
    open at once (0 for a scalar), strings skipped.

    Linear and in C but for one pass over the brackets. Past a point where more brackets
    closed than opened, the text is invalid and a decoder has already stopped; what is
    counted there never lowers the result below what a decoder reaches.
    """
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets), initial=0))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing documents nested deeper than ``SCANPULSE_MAX_JSON_DEPTH``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding") or settings.DEFAULT_CHARSET
        try:
            # Text encodings only: a bytes-to-bytes codec (zlib, bz2…) would inflate the body
            # after its size was checked.
            "".encode(encoding)
            data = stream.read() if stream is not None else b""
            if codecs.lookup(encoding).name != "utf-8":
                data = data.decode(encoding).encode("utf-8")
        except (LookupError, UnicodeError) as exc:
            raise ParseError(f'Unsupported charset "{encoding}" or a body not in it.') from exc
        limit = settings.SCANPULSE_MAX_JSON_DEPTH
        if json_depth(data) > limit:
            raise ParseError(f"JSON is nested too deeply (at most {limit} levels).")
        return super().parse(io.BytesIO(data), media_type, parser_context | {"encoding": "utf-8"})


class RawBodyParser(parsers.BaseParser):
    """A document uploaded as the whole body, kept as bytes for the service that checks it,
    read up to one byte past the limit named by ``limit_setting`` (so the service can tell a
    body over the limit, and answer 413, without reading more of it)."""

    limit_setting: str

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return b""
        data: bytes = stream.read(getattr(settings, self.limit_setting) + 1)
        return data
