"""A strict parser of the event-stream format, written from the WHATWG HTML specification
(§ 9.2.6 "Interpreting an event stream"), used to check what the server puts on the wire."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ParsedEvent:
    type: str
    data: str
    last_event_id: str


@dataclass
class StreamParser:
    events: list[ParsedEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    last_event_id: str = ""
    _data: list[str] = field(default_factory=list)
    _type: str = ""
    _buffer: str = ""
    _started: bool = False
    _pending_cr: bool = False
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )

    def feed(self, chunk: bytes) -> None:
        text = self._decoder.decode(chunk)
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = False
        self._buffer += text
        while True:
            index = min(
                (i for i in (self._buffer.find("\r"), self._buffer.find("\n")) if i >= 0),
                default=-1,
            )
            if index < 0:
                return
            line = self._buffer[:index]
            if self._buffer[index] == "\r":
                if index + 1 < len(self._buffer):
                    skip = 2 if self._buffer[index + 1] == "\n" else 1
                else:
                    skip = 1
                    self._pending_cr = True
            else:
                skip = 1
            self._buffer = self._buffer[index + skip :]
            self._line(line)

    def _line(self, line: str) -> None:
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            self.comments.append(line[1:].lstrip(" ") if line[1:2] == " " else line[1:])
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._type = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\x00" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)

    def _dispatch(self) -> None:
        if not self._data:
            self._type = ""
            return
        self.events.append(
            ParsedEvent(self._type or "message", "\n".join(self._data), self.last_event_id)
        )
        self._data = []
        self._type = ""


class StreamReader:
    """Reads a live ``text/event-stream`` response incrementally with a deadline per event."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.parser = StreamParser()
        self.raw = bytearray()
        self._chunks = response.iter_raw()
        self._delivered = 0
        self.ended = False

    def _pump(self) -> bool:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self.ended = True
            return False
        self.raw += chunk
        self.parser.feed(chunk)
        return True

    def next_event(self) -> ParsedEvent | None:
        """The next event, or None when the server ended the stream."""
        while self._delivered >= len(self.parser.events):
            if not self._pump():
                return None
        event = self.parser.events[self._delivered]
        self._delivered += 1
        return event

    def events_until(self, predicate: Any) -> list[ParsedEvent]:
        seen = []
        while (event := self.next_event()) is not None:
            seen.append(event)
            if predicate(event):
                break
        return seen

    def read_to_end(self) -> list[ParsedEvent]:
        return self.events_until(lambda _event: False)
