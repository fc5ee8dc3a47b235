"""A scan event as the log produces it: what the API, the streams and the pages deliver.

Plain values, free of Django: the live edge (``scanpulse.events``) carries them over the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A scan ends with one event whose kind is its terminal status (the one definition of them).
TERMINAL_KINDS = frozenset({"completed", "failed", "cancelled"})
EVENT_KINDS = (
    frozenset({"status", "step", "progress", "log", "findings", "attempt", "advisory"})
    | TERMINAL_KINDS
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
