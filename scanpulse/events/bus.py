"""The event bus interface and the per-process accessor.

Publishing is synchronous (workers and request handlers call it after a commit). Receiving
is asynchronous and happens exactly once per web process: the stream hub holds the only
subscription and fans messages out to its connections. The bus carries notifications only;
the event log in the database stays the source of truth, so a lost message is repaired by
reading the log, never by trusting the bus.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from scanpulse.core.backends import Backend
from scanpulse.scans.types import Event

from .types import Control, event_message

MessageHandler = Callable[[dict[str, Any]], None]
ReconnectHandler = Callable[[], None]


class EventBus(abc.ABC):
    def publish_event(self, event: Event) -> None:
        self.publish(event_message(event))

    def publish_control(self, control: Control) -> None:
        self.publish(control.to_message())

    @abc.abstractmethod
    def publish(self, message: dict[str, Any]) -> None:
        """Send a message to every subscribed process. Never raises for a broker outage:
        undelivered messages are retried in the background, in order."""

    @abc.abstractmethod
    async def listen(self, on_message: MessageHandler, on_reconnect: ReconnectHandler) -> None:
        """Deliver every message to ``on_message`` (on the running loop) until cancelled.

        ``on_reconnect`` runs once the subscription is in place and again whenever it was
        re-established after a break: streams that opened before it, or messages published
        during the break, may have been missed, and must be read from the log.
        """

    def close(self) -> None:  # noqa: B027 - optional hook; most buses hold nothing
        """Release connections (tests, shutdown)."""


_bus: Backend[EventBus] = Backend("SCANPULSE_EVENT_BUS")


def get_bus() -> EventBus:
    return _bus.get()


def reset_bus() -> None:
    """Forget the process's bus (tests switch backends with settings overrides)."""
    _bus.reset(lambda bus: bus.close())
