"""The isolated analyzer process: ``python -I -B -m scanpulse.analyzers.child``.

It reads a JSON spec on stdin, applies its resource limits, runs one analyzer and streams JSON
lines on stdout (``progress``, ``log``, then ``result`` or ``failure``); see ``runner.py``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from scanpulse.analyzers.base import AnalyzerContext, AnalyzerResult
from scanpulse.analyzers.registry import import_analyzer

# Written without building anything new, because it is sent when memory has run out.
_MEMORY_FAILURE = b'{"type": "failure", "kind": "memory"}\n'


class _Channel:
    """The protocol stream; analyzers may report progress from helper threads, hence the lock."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode("utf-8") + b"\n")

    def send_raw(self, line: bytes) -> None:
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def _set_limit(which: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _apply_limits(spec: dict[str, Any]) -> None:
    memory = int(spec["memory_mb"]) * 1024 * 1024
    cpu = int(spec["cpu_s"])
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    _set_limit(resource.RLIMIT_AS, memory, memory)
    # The soft CPU limit delivers SIGXCPU, which the parent recognises; the hard one is a
    # backstop (SIGKILL) for a process that ignores the signal.
    _set_limit(resource.RLIMIT_CPU, cpu, cpu + 5)


def _run(spec: dict[str, Any], channel: _Channel) -> AnalyzerResult:
    sys.path[:0] = spec["plugin_paths"]
    analyzer = import_analyzer(spec["analyzer"])()

    def progress(done: int, total: int) -> None:
        channel.send({"type": "progress", "done": done, "total": total})

    def log(message: str) -> None:
        channel.send({"type": "log", "message": message})

    context = AnalyzerContext(
        root=Path(spec["root"]),
        files=list(spec["files"]),
        options=dict(spec["options"]),
        progress=progress,
        log=log,
        max_workers=int(spec["max_workers"]),
    )
    return analyzer.run(context)


def main() -> int:
    spec = json.loads(sys.stdin.buffer.read())
    # The protocol gets a private copy of stdout; fd 1 itself is pointed at stderr so that
    # whatever an analyzer or a library prints cannot corrupt the stream.
    channel = _Channel(open(os.dup(1), "wb"))  # noqa: SIM115 - lives as long as the process
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _apply_limits(spec)
    try:
        result = _run(spec, channel)
    except MemoryError:
        channel.send_raw(_MEMORY_FAILURE)
        return 1
    except BaseException as exc:  # reported to the parent by class name, traceback to stderr
        traceback.print_exc()
        channel.send({"type": "failure", "kind": "exception", "exception": type(exc).__name__})
        return 1
    if len(result.findings) > int(spec["max_findings"]):
        # Never serialized: millions of findings would cost the parent as much as this process.
        channel.send({"type": "failure", "kind": "too_many_findings"})
        return 1
    channel.send({"type": "result", **result.to_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
