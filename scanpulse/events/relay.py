"""Puts what the scan log commits on the bus, for every web process's streams.

The log (``scanpulse.scans.log``) knows nothing of the bus: it sends a signal once each
change commits, and the receivers here, connected when the app is ready (in web processes,
workers and commands alike), publish it.
"""

from __future__ import annotations

from typing import Any

from scanpulse.scans.types import Event

from .bus import get_bus
from .types import Control


def on_event_committed(sender: Any, event: Event, **kwargs: Any) -> None:
    get_bus().publish_event(event)


def on_events_purged(sender: Any, scan_id: str, org_id: str, through: int, **kwargs: Any) -> None:
    get_bus().publish_control(
        Control("purged", {"scan": scan_id, "org": org_id, "through": through})
    )
