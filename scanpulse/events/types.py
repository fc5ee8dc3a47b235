"""Event values as they travel from the log, over the bus, to clients."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scanpulse.scans.models import TERMINAL_STATUSES

# A scan that ends appends one event whose kind is its terminal status.
TERMINAL_KINDS = frozenset(str(status) for status in TERMINAL_STATUSES)
EVENT_KINDS = (
    frozenset({"status", "step", "progress", "log", "findings", "attempt"}) | TERMINAL_KINDS
)


@dataclass(frozen=True, slots=True)
class Event:
    scan_id: str
    org_id: str
    seq: int
    org_seq: int
    kind: str
    data: dict[str, Any]
    time: str

    @property
    def is_terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS

    def client_payload(self) -> dict[str, Any]:
        """What clients receive, identical over SSE and polling."""
        return {
            "scan": self.scan_id,
            "seq": self.seq,
            "kind": self.kind,
            "time": self.time,
            "data": self.data,
        }

    def org_client_payload(self) -> dict[str, Any]:
        return {**self.client_payload(), "org_seq": self.org_seq}

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "event",
            "scan": self.scan_id,
            "org": self.org_id,
            "seq": self.seq,
            "org_seq": self.org_seq,
            "kind": self.kind,
            "data": self.data,
            "time": self.time,
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Event:
        return cls(
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
