"""One analyzer run in its own resource-limited child process (``scanpulse.analyzers.child``):
starting it isolated from the checkout and the worker, reading its progress and result, and
turning every way it can fail into an :class:`~scanpulse.analyzers.runs.AnalyzerFailure`.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

from scanpulse.analyzers.base import Analyzer, AnalyzerResult
from scanpulse.analyzers.registry import resolve_analyzer
from scanpulse.analyzers.runs import (
    DEFAULT_LIMITS,
    NO_CALLBACKS,
    AnalyzerCancelled,
    AnalyzerFailure,
    Callbacks,
    FailureKind,
    Limits,
    TooManyFindings,
)

STDERR_TAIL_BYTES = 4096
_POLL_SECONDS = 0.1
# How long a child that has closed its output may take to exit before it is killed anyway.
_EXIT_GRACE_SECONDS = 5.0


def _child_env(home: str) -> dict[str, str]:
    # Nothing from the worker's environment but PATH: no database or cloud credentials.
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def _failure(analyzer: Analyzer, kind: FailureKind, message: str) -> AnalyzerFailure:
    return AnalyzerFailure(
        tool=analyzer.name, tool_version=analyzer.tool_version(), errors=[message], kind=kind
    )


def _exit_description(returncode: int) -> str:
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"exit code {returncode}, {signal.Signals(-returncode).name}"
    except ValueError:
        return f"exit code {returncode}"


class _ChildRun:
    """One child process and the reading of its two pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], callbacks: Callbacks) -> None:
        self.proc = proc
        self.callbacks = callbacks
        self.result: AnalyzerResult | None = None
        self.failure: dict[str, Any] | None = None
        self.stderr_tail = bytearray()
        self._pending = bytearray()
        self._selector = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        self._selector.register(proc.stdout, selectors.EVENT_READ, "out")
        self._selector.register(proc.stderr, selectors.EVENT_READ, "err")

    @property
    def output_open(self) -> bool:
        return any(key.data == "out" for key in self._selector.get_map().values())

    def pump(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            stream = cast(IO[bytes], key.fileobj)
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                self._selector.unregister(stream)
            elif key.data == "out":
                self._pending += chunk
                if b"\n" in chunk:  # a result can be megabytes long; split only when it can help
                    self._dispatch_lines()
            else:
                self.stderr_tail += chunk
                del self.stderr_tail[:-STDERR_TAIL_BYTES]

    def drain_stderr(self, until: float) -> None:
        """Collect the rest of stderr; protocol output still unread is dropped, so no callback
        runs after the run has ended (or failed in a callback)."""
        for key in list(self._selector.get_map().values()):
            if key.data == "out":
                self._selector.unregister(key.fileobj)
        while self._selector.get_map() and time.monotonic() < until:
            self.pump(until - time.monotonic())

    def _dispatch_lines(self) -> None:
        *lines, rest = self._pending.split(b"\n")
        self._pending = bytearray(rest)
        for line in lines:
            try:
                message = json.loads(line)
                kind = message["type"]
            except (ValueError, TypeError, KeyError):
                continue  # not protocol (a forked worker wrote to the stream): ignore it
            if kind == "progress":
                self.callbacks.on_progress(int(message["done"]), int(message["total"]))
            elif kind == "log":
                self.callbacks.on_log(str(message["message"]))
            elif kind == "result":
                self.result = AnalyzerResult.from_dict(message)
            elif kind == "failure":
                self.failure = message

    def exited(self) -> bool:
        """Whether the child has exited, without reaping it (its pid must stay reserved until
        the group is killed)."""
        return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        self._selector.close()


def _run_child(
    spec: dict[str, Any], analyzer: Analyzer, limits: Limits, callbacks: Callbacks
) -> AnalyzerResult:
    with tempfile.TemporaryDirectory(prefix="scanpulse-analyzer-") as workdir:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-m", "scanpulse.analyzers.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=_child_env(workdir),
            start_new_session=True,
        )
        run = _ChildRun(proc, callbacks)
        timed_out = False
        try:
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # a child dying at once is seen below
                proc.stdin.write(json.dumps(spec).encode("utf-8"))
                proc.stdin.close()
            deadline = time.monotonic() + limits.timeout_s
            exited_at: float | None = None
            while run.output_open:
                if callbacks.is_cancelled():
                    raise AnalyzerCancelled(f"analyzer {analyzer.name} was cancelled")
                now = time.monotonic()
                if now >= deadline:
                    timed_out = True
                    break
                run.pump(min(_POLL_SECONDS, deadline - now))
                # A worker that outlives the child could hold the output open forever.
                if exited_at is None and run.exited():
                    exited_at = now
                elif exited_at is not None and now - exited_at > _EXIT_GRACE_SECONDS:
                    break
            grace_end = min(deadline, time.monotonic() + _EXIT_GRACE_SECONDS)
            while not timed_out and not run.exited() and time.monotonic() < grace_end:
                time.sleep(0.01)
        finally:
            run.kill_group()
            proc.wait()
            run.drain_stderr(time.monotonic() + 1.0)
            run.close()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
    if timed_out:
        run.callbacks.on_log(_stderr_log(analyzer.name, run.stderr_tail))
        return _failure(
            analyzer,
            "timed_out",
            f"analyzer {analyzer.name} timed out after {limits.timeout_s:g} s",
        )
    return _outcome(run, analyzer, limits)


def _stderr_log(name: str, tail: bytes | bytearray) -> str:
    text = bytes(tail).decode("utf-8", "replace").strip()
    return (
        f"analyzer {name} error output (last {STDERR_TAIL_BYTES // 1024} KiB): {text or '(none)'}"
    )


def _outcome(run: _ChildRun, analyzer: Analyzer, limits: Limits) -> AnalyzerResult:
    if run.result is not None:
        return run.result
    name = analyzer.name
    returncode = run.proc.returncode
    failure = run.failure or {}
    if failure.get("kind") == "too_many_findings":
        raise TooManyFindings(limits.max_findings, name)
    run.callbacks.on_log(_stderr_log(name, run.stderr_tail))
    if failure.get("kind") == "memory":
        return _failure(
            analyzer, "memory", f"analyzer {name} exceeded its {limits.memory_mb} MB memory limit"
        )
    if returncode == -signal.SIGXCPU:
        return _failure(
            analyzer, "cpu", f"analyzer {name} exceeded its {limits.cpu_s} s CPU time limit"
        )
    if failure.get("kind") == "exception":
        return _failure(
            analyzer, "crashed", f"analyzer {name} crashed (unhandled {failure.get('exception')})"
        )
    if returncode != 0:
        return _failure(
            analyzer, "crashed", f"analyzer {name} crashed ({_exit_description(returncode)})"
        )
    return _failure(analyzer, "no_result", f"analyzer {name} exited without a result")


def run_isolated(
    analyzer: str | type[Analyzer],
    *,
    root: Path,
    files: Sequence[str],
    options: dict[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    callbacks: Callbacks = NO_CALLBACKS,
    plugin_paths: Sequence[str] = (),
) -> AnalyzerResult:
    """Run one analyzer on exactly ``files`` in a fresh child process and return its result.

    ``analyzer`` is a class or its ``module:Class`` path. ``plugin_paths`` are extra import
    directories for analyzers that are not installed; none may lie inside ``root``, since
    nothing from the checkout is ever importable. The child runs with ``python -I``, in an
    empty temporary directory, with a minimal environment, in its own session so that the
    whole process group is killed on timeout, cancellation or any error here.

    Raises :class:`AnalyzerCancelled` when ``callbacks.is_cancelled()`` turns true, and
    :class:`TooManyFindings` when the analyzer reports more than ``limits.max_findings``.
    """
    path, cls = resolve_analyzer(analyzer)
    real_root = os.path.realpath(root)
    for plugin_path in plugin_paths:
        real = os.path.realpath(plugin_path)
        if real == real_root or real.startswith(real_root + os.sep):
            raise ValueError(f"plugin path {plugin_path} lies inside the checkout {root}")
    spec = {
        "analyzer": path,
        "root": os.path.abspath(root),  # the child runs elsewhere
        "files": list(files),
        "options": options or {},
        "max_workers": limits.max_workers,
        "memory_mb": limits.memory_mb,
        "cpu_s": limits.cpu_s,
        "max_findings": limits.max_findings,
        "plugin_paths": [os.path.abspath(p) for p in plugin_paths],
    }
    return _run_child(spec, cls(), limits, callbacks)
