"""Messages on the bus: scan events (``scanpulse.scans.types.Event``) and control messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scanpulse.scans.types import Event


def event_message(event: Event) -> dict[str, Any]:
    return {
        "type": "event",
        "scan": event.scan_id,
        "org": event.org_id,
        "seq": event.seq,
        "org_seq": event.org_seq,
        "kind": event.kind,
        "data": event.data,
        "time": event.time,
    }


def event_from_message(message: dict[str, Any]) -> Event:
    return Event(
        scan_id=str(message["scan"]),
        org_id=str(message["org"]),
        seq=int(message["seq"]),
        org_seq=int(message["org_seq"]),
        kind=str(message["kind"]),
        data=dict(message["data"]),
        time=str(message["time"]),
    )


@dataclass(frozen=True, slots=True)
class Control:
    """A message for every web process that is not a scan event (revocations, session ends)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        return {"type": self.type, **self.params}


def encode_message(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def decode_message(raw: bytes | str) -> dict[str, Any]:
    message = json.loads(raw)
    if not isinstance(message, dict) or "type" not in message:
        raise ValueError("not a bus message")
    return message
