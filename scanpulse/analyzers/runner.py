"""Running analyzers: each in its own resource-limited child process, with a per-file result cache.

:func:`run_analyzer` is what the pipeline calls; :func:`run_isolated` is the bare child-process
run underneath it. Neither raises for a failing analyzer: the failure becomes an
:class:`AnalyzerFailure` (a result carrying one user-facing error). Only cancellation raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol, cast

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
    ignore_log,
    ignore_progress,
    never_cancelled,
)
from scanpulse.analyzers.registry import analyzer_path, import_analyzer

STDERR_TAIL_BYTES = 4096
_POLL_SECONDS = 0.1
# How long a child that has closed its output may take to exit before it is killed anyway.
_EXIT_GRACE_SECONDS = 5.0

# Part of every cache key, so that entries of an earlier format are never read again (format 1
# entries could hold the findings of every file sharing one content, not of one file).
CACHE_FORMAT = "2"

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


@dataclass(slots=True)
class AnalyzerFailure(AnalyzerResult):
    """A run that produced no usable result; ``errors`` holds the one user-facing message."""

    kind: FailureKind = "crashed"


class ResultCache(Protocol):
    """Per-file results of ``per_file`` analyzers, keyed by :func:`cache_key`.

    A value is the list of that file's findings, each a finding dict without ``path`` plus a
    ``rule`` entry holding the rule dict; an empty list is a valid result.
    """

    def get_many(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]: ...

    def put_many(self, entries: dict[str, list[dict[str, Any]]]) -> None: ...


@dataclass(slots=True)
class MemoryResultCache:
    """A :class:`ResultCache` in a dict, for tests and one-off runs."""

    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def get_many(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        return {key: self.entries[key] for key in keys if key in self.entries}

    def put_many(self, entries: dict[str, list[dict[str, Any]]]) -> None:
        self.entries.update(entries)


def cache_key(analyzer: Analyzer, options: dict[str, Any], content_sha256: str) -> str:
    """The cache key of one file's result: analyzer, tool version, configuration and content."""
    parts = (
        CACHE_FORMAT,
        analyzer.name,
        analyzer.tool_version(),
        analyzer.config_key(options),
        content_sha256,
    )
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _resolve(analyzer: str | type[Analyzer]) -> tuple[str, type[Analyzer]]:
    if isinstance(analyzer, str):
        return analyzer, import_analyzer(analyzer)
    return analyzer_path(analyzer), analyzer


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
    limits: Limits = Limits(),
    callbacks: Callbacks = Callbacks(),
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
    path, cls = _resolve(analyzer)
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


def _error_paths(errors: Sequence[str], candidates: set[str]) -> set[str] | None:
    """The files the ``"path: message"`` errors are about, or None if one is about no file."""
    paths = set()
    for error in errors:
        index = error.find(": ")
        while index != -1 and error[:index] not in candidates:
            index = error.find(": ", index + 1)
        if index == -1:
            return None
        paths.add(error[:index])
    return paths


def _sha256_of(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None  # left to the analyzer, which reports it


def run_analyzer(
    analyzer: str | type[Analyzer],
    *,
    root: Path,
    files: Sequence[str],
    options: dict[str, Any] | None = None,
    limits: Limits = Limits(),
    cache: ResultCache | None = None,
    callbacks: Callbacks = Callbacks(),
    plugin_paths: Sequence[str] = (),
) -> AnalyzerResult:
    """Run one analyzer on the ``files`` it selects, reusing cached per-file results.

    For ``per_file`` analyzers with a ``cache``, files whose content was analyzed before with
    the same tool version and configuration are not analyzed again (no child process at all
    when every file hits); progress counts them as done. Results of files the analyzer reported
    errors or gaps for are not cached, and nothing is cached from a failed run.

    Raises :class:`AnalyzerCancelled` on cancellation, and :class:`TooManyFindings` when the
    files, cached or not, have more than ``limits.max_findings`` findings together.
    """
    path, cls = _resolve(analyzer)
    instance = cls()
    options = options or {}
    selected = [name for name in files if instance.selects(name)]
    if not (cls.per_file and cache is not None):
        return run_isolated(
            path,
            root=root,
            files=selected,
            options=options,
            limits=limits,
            callbacks=callbacks,
            plugin_paths=plugin_paths,
        )

    keys: dict[str, str] = {}
    for index, name in enumerate(selected):
        if index % 256 == 0 and callbacks.is_cancelled():
            raise AnalyzerCancelled(f"analyzer {cls.name} was cancelled")
        digest = _sha256_of(root / name)
        if digest is not None:
            keys[name] = cache_key(instance, options, digest)
    cached = cache.get_many(list(keys.values()))
    hits = {name: cached[key] for name, key in keys.items() if key in cached}
    misses = [name for name in selected if name not in hits]
    total = len(selected)
    callbacks.on_progress(len(hits), total)
    if hits:
        callbacks.on_log(
            f"{len(hits)} of {total} files unchanged since an earlier scan: results reused"
        )

    if misses:

        def on_progress(done: int, _total: int) -> None:
            callbacks.on_progress(len(hits) + done, total)

        fresh = run_isolated(
            path,
            root=root,
            files=misses,
            options=options,
            limits=limits,
            callbacks=Callbacks(on_progress, callbacks.on_log, callbacks.is_cancelled),
            plugin_paths=plugin_paths,
        )
        if isinstance(fresh, AnalyzerFailure):
            return fresh
    else:
        fresh = AnalyzerResult(tool=cls.name, tool_version=instance.tool_version())

    _store(cache, fresh, misses, keys)
    return _merge(fresh, hits, limits)


def _names_its_file(finding: AnalyzerFinding) -> bool:
    """Whether the finding mentions its file anywhere but in ``path`` (the secrets analyzer's
    messages do): stored by content, it would name the wrong file for a copy or a rename."""
    if finding.path in finding.message or finding.path in finding.snippet:
        return True
    return bool(finding.properties) and finding.path in json.dumps(finding.properties)


def _store(
    cache: ResultCache, fresh: AnalyzerResult, misses: list[str], keys: dict[str, str]
) -> None:
    """Store each analyzed file's findings under its content's key.

    Files with the same content share one key, and the entry holds the findings of one of
    them: a hit gives a file exactly its own findings, however many copies there are.
    """
    failed = _error_paths(fresh.errors, set(misses))
    if failed is None:
        return  # an error about no particular file may have touched any of them
    failed |= {gap.path for gap in fresh.gaps}  # a file not fully analyzed is analyzed again
    by_file: dict[str, list[AnalyzerFinding]] = {name: [] for name in misses if name in keys}
    for finding in fresh.findings:
        found = by_file.get(finding.path)
        if found is not None:
            found.append(finding)
    rules = {rule.id: rule.to_dict() for rule in fresh.rules}
    entries: dict[str, list[dict[str, Any]]] = {}
    for name, findings in by_file.items():
        key = keys[name]
        if key in entries or name in failed or any(map(_names_its_file, findings)):
            continue
        stored_findings = []
        for finding in findings:
            stored = finding.to_dict()
            del stored["path"]
            stored["rule"] = rules.get(finding.rule_id)
            stored_findings.append(stored)
        entries[key] = stored_findings
    if entries:
        cache.put_many(entries)


def _merge(
    fresh: AnalyzerResult, hits: dict[str, list[dict[str, Any]]], limits: Limits
) -> AnalyzerResult:
    # Counted before anything is built: the cache can hold far more than a tool would report.
    if len(fresh.findings) + sum(map(len, hits.values())) > limits.max_findings:
        raise TooManyFindings(limits.max_findings, fresh.tool)
    rules = {rule.id: rule for rule in fresh.rules}
    findings = list(fresh.findings)
    for name, stored_findings in hits.items():
        for stored in stored_findings:
            data = dict(stored)
            rule = data.pop("rule", None)
            if rule is not None and rule["id"] not in rules:
                rules[rule["id"]] = Rule.from_dict(rule)
            findings.append(AnalyzerFinding.from_dict({**data, "path": name}))
    findings.sort(key=lambda f: (f.path, f.start_line or 0, f.rule_id, f.message))
    return AnalyzerResult(
        tool=fresh.tool,
        tool_version=fresh.tool_version,
        rules=sorted(rules.values(), key=lambda rule: rule.id),
        findings=findings,
        errors=list(fresh.errors),
        notes=list(fresh.notes),
        files_analyzed=fresh.files_analyzed + len(hits),
        gaps=list(fresh.gaps),  # cached files had neither errors nor gaps
    )
