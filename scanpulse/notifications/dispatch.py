"""Who makes the attempts of deliveries: a backend behind a small interface, chosen by
``SCANPULSE_WEBHOOK_DISPATCHER`` like the scan executor.

The embedded mode attempts on a small thread pool in the server process
(``dispatchers.inprocess``); production sends a Celery task to the workers
(``dispatchers.celery``). Both end in ``delivery.attempt``. The database holds what is due
(``Delivery.next_attempt_at``): a message or a timer that is lost delays an attempt until the
next housekeeping, never loses it (``delivery.sweep_due``).
"""

from __future__ import annotations

import abc
from uuid import UUID

from scanpulse.core.backends import Backend


class Dispatcher(abc.ABC):
    @abc.abstractmethod
    def submit(self, delivery_id: UUID | str, *, delay: float = 0.0) -> None:
        """Attempt the delivery in ``delay`` seconds (once the transaction that made it due
        has committed: callers use ``on_commit``)."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop; attempts not yet made stay due in the database."""
        return None


_dispatcher: Backend[Dispatcher] = Backend("SCANPULSE_WEBHOOK_DISPATCHER")


def get_dispatcher() -> Dispatcher:
    return _dispatcher.get()


def reset_dispatcher(wait: bool = True) -> None:
    _dispatcher.reset(lambda dispatcher: dispatcher.shutdown(wait=wait))
