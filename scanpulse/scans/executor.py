"""Where scans run: a backend behind a small interface, chosen by settings.

Embedded mode runs scans on a bounded thread pool inside the server process
(``executors.inprocess``); production hands them to Celery workers (``executors.celery``).
Both end in the same service, ``scanpulse.scans.attempts.run_scan``.

What an executor queues is a request for a slot, not a particular scan: when a slot takes
the request, it runs the waiting scan that is fairest to run at that moment
(``scanpulse.scans.claims.scan_claim_next``). One request is made per scan that starts
waiting, so there are at least as many requests as waiting scans; a spare one finds nothing
to run and ends.

This module is the interface and the choice of backend only: the services that queue scans
import it, and the backends (which run scans through those services) are found by the dotted
path in ``SCANPULSE_SCAN_EXECUTOR``.
"""

from __future__ import annotations

import abc
from uuid import UUID

from scanpulse.core.backends import Backend


class ScanExecutor(abc.ABC):
    @abc.abstractmethod
    def submit(self, scan_id: UUID | str) -> None:
        """Ask for a slot because ``scan_id`` started waiting (called after the transaction
        that made it wait has committed); the slot runs the fairest waiting scan."""

    @abc.abstractmethod
    def cancel(self, scan_id: UUID | str) -> None:
        """Stop a scan running here now, rather than at its next cancellation check (a
        waiting scan needs nothing: once cancelled, no slot picks it)."""

    def running(self) -> int:
        """How many slots of this process are at work now (for a server saying what it
        waits for on exit); scans running in other processes are not counted."""
        return 0

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking requests; with ``wait``, return once the scans running here ended.
        Requests not yet taken are not lost: their scans still wait in the database."""
        return None


_executor: Backend[ScanExecutor] = Backend("SCANPULSE_SCAN_EXECUTOR")


def get_executor() -> ScanExecutor:
    return _executor.get()


def reset_executor(wait: bool = True) -> None:
    _executor.reset(lambda executor: executor.shutdown(wait=wait))
