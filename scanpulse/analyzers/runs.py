"""The terms of one analyzer run: its limits, how it reports back, and how it fails or is
stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from scanpulse.analyzers.base import AnalyzerResult, ignore_log, ignore_progress, never_cancelled

FailureKind = Literal["crashed", "timed_out", "memory", "cpu", "no_result"]


class AnalyzerCancelled(Exception):
    """The scan was cancelled while the analyzer ran; its process group has been killed."""


class TooManyFindings(Exception):
    """More findings than ``Limits.max_findings``: a runaway tool, or a tree no scan can hold.

    Raised rather than returned, because the scan cannot go on without the findings it would
    drop; ``tool`` is None when analyzers together, not one of them, went over the limit.
    """

    def __init__(self, limit: int, tool: str | None = None) -> None:
        self.limit = limit
        self.tool = tool
        who = f"analyzer {tool}" if tool else "the analyzers"
        super().__init__(f"{who} reported more than {limit:,} findings")


@dataclass(frozen=True, slots=True)
class Limits:
    """Resources one analyzer run may use.

    ``memory_mb`` (RLIMIT_AS) and ``cpu_s`` (RLIMIT_CPU) apply to every process of the run
    separately (the child and each worker it starts); ``timeout_s`` is wall-clock time for
    the whole run and is what bounds the total. ``max_findings`` bounds the findings of the
    run, cached ones included: the child refuses to send more, and no more are ever built.
    """

    timeout_s: float = 300.0
    cpu_s: int = 600
    memory_mb: int = 2048
    max_workers: int = 1
    max_findings: int = 200_000


@dataclass(frozen=True, slots=True)
class Callbacks:
    """How a run reports back; all three are called from the calling thread."""

    on_progress: Callable[[int, int], None] = ignore_progress
    on_log: Callable[[str], None] = ignore_log
    is_cancelled: Callable[[], bool] = never_cancelled


# The defaults of a run: no limit but the defaults, nothing reported, never cancelled.
DEFAULT_LIMITS = Limits()
NO_CALLBACKS = Callbacks()


@dataclass(slots=True)
class AnalyzerFailure(AnalyzerResult):
    """A run that produced no usable result; ``errors`` holds the one user-facing message."""

    kind: FailureKind = "crashed"
