"""Files of a checkout for the runner and the analyzers: safe discovery, reading, and
spreading them over worker processes.

Nothing here follows a symbolic link, so an analyzer never reads outside the checkout.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.process
import os
import signal
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TypeVar, cast

from scanpulse.analyzers.base import Gap

T = TypeVar("T")

BINARY_SNIFF_BYTES = 8192
# How long a worker asked to stop may take before it is killed.
_RETIRE_SECONDS = 5.0
_MIB = 1024 * 1024


@dataclass(slots=True)
class Discovery:
    """The regular files of a checkout, and what was left out that the user should hear about."""

    files: list[str] = field(default_factory=list)  # repository-relative POSIX paths, sorted
    messages: list[str] = field(default_factory=list)  # "path: why it was skipped", sorted
    gaps: list[Gap] = field(default_factory=list)  # the same, one skipped-file gap each


def _megabytes(size: int) -> str:
    value = size / _MIB
    return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def discover_files(root: Path, *, max_file_size: int) -> Discovery:
    """List the regular files under ``root`` that analyzers may read.

    ``.git`` directories are skipped. Symbolic links are never followed: one pointing outside
    the checkout is reported; one pointing inside is dropped quietly because its target is listed
    under its own name anyway. Special files and files larger than ``max_file_size`` bytes are
    reported and left out, as are names that are not valid UTF-8 (they could not be stored).
    """
    real_root = os.path.realpath(root)
    files: list[str] = []
    messages: list[tuple[str, str]] = []
    gaps: list[Gap] = []

    def skip(relative: str, reason: str) -> None:
        messages.append((relative, f"{relative}: {reason}, skipped"))
        gaps.append(Gap(path=relative, kind="skipped", reason=reason))

    # Iterative, so that a pathologically deep tree cannot exhaust the recursion limit.
    pending = [(os.fspath(root), "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            skip(prefix.rstrip("/") or ".", f"directory could not be read ({exc.strerror})")
            continue
        for entry in entries:
            relative = prefix + entry.name
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                printable = os.fsencode(relative).decode("utf-8", errors="replace")
                skip(printable, "file name is not valid UTF-8")
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                skip(relative, f"could not be read ({exc.strerror})")
                continue
            if stat.S_ISLNK(info.st_mode):
                if not _is_inside(os.path.realpath(entry.path), real_root):
                    skip(relative, "symbolic link to a path outside the repository")
            elif stat.S_ISDIR(info.st_mode):
                if entry.name != ".git":
                    pending.append((entry.path, relative + "/"))
            elif not stat.S_ISREG(info.st_mode):
                skip(relative, _special_kind(info.st_mode))
            elif info.st_size > max_file_size:
                skip(
                    relative,
                    f"{_megabytes(info.st_size)} exceeds the "
                    f"{_megabytes(max_file_size)} per-file limit",
                )
            else:
                files.append(relative)

    files.sort()
    messages.sort()
    gaps.sort(key=lambda gap: gap.path)
    return Discovery(files=files, messages=[message for _, message in messages], gaps=gaps)


def is_probably_binary(data: bytes) -> bool:
    """Whether ``data`` looks like a binary file: a NUL byte within the first 8 KiB."""
    return b"\0" in data[:BINARY_SNIFF_BYTES]


@dataclass(frozen=True, slots=True)
class FileContent:
    """A file's bytes with the outcome of decoding them as UTF-8."""

    data: bytes
    binary: bool
    text: str | None  # strict UTF-8 decoding; None when binary or not valid UTF-8

    @property
    def valid_utf8(self) -> bool:
        return self.text is not None

    def text_replacing_errors(self) -> str:
        """The text with every invalid UTF-8 sequence replaced by U+FFFD."""
        return self.text if self.text is not None else self.data.decode("utf-8", "replace")


def read_text(path: Path) -> FileContent:
    """Read ``path`` and decode it as UTF-8, leaving the caller to decide about failures.

    Raises ``OSError`` when the file cannot be read. The last path component is opened with
    ``O_NOFOLLOW``, so a file swapped for a symbolic link after discovery is refused.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        data = handle.read()
    if is_probably_binary(data):
        return FileContent(data=data, binary=True, text=None)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return FileContent(data=data, binary=False, text=text)


class WorkerFailed(Exception):
    """A file failed its worker process on its own, and the caller gave no ``crashed`` handler."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGXCPU:
            return "the worker process analyzing it exceeded its CPU time limit"
        return f"the worker process analyzing it was killed ({name})"
    return f"the worker process analyzing it exited without a result (exit code {exitcode})"


def _outcome_of(
    worker: Callable[[str, list[str]], list[T]], root: str, paths: list[str]
) -> tuple[str, Any]:
    try:
        return "ok", worker(root, paths)
    except MemoryError:
        return "failed", "the worker process analyzing it ran out of memory"
    except Exception as exc:  # by class name only: a message may quote the file
        return "failed", f"the worker process analyzing it failed (unhandled {type(exc).__name__})"


def _worker_main(
    connection: Connection, worker: Callable[[str, list[str]], list[T]], root: str
) -> None:
    """A forked worker: runs the chunks it is sent, one at a time, and sends back each one's
    outcomes. After a failure it exits: the next chunk gets a new worker."""
    while True:
        try:
            paths = connection.recv()
        except EOFError:
            return
        if paths is None:  # no more work (EOF alone is not enough: workers forked later hold
            return  # copies of the parent's end of this connection)
        status, value = _outcome_of(worker, root, paths)
        try:
            connection.send((status, value))
        except MemoryError:  # the outcomes themselves do not fit: that is the chunk's failure
            status = "failed"
            connection.send((status, "the worker process analyzing it ran out of memory"))
        if status != "ok":
            return


@dataclass(slots=True)
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    task: list[int] | None = None  # positions in ``files`` of the chunk it is working on


def process_in_chunks(
    worker: Callable[[str, list[str]], list[T]],
    root: Path,
    files: Sequence[str],
    *,
    max_workers: int,
    progress: Callable[[int, int], None],
    chunk_size: int = 50,
    crashed: Callable[[str, str], T] | None = None,
) -> list[T]:
    """``worker(root, chunk)`` over ``files`` in chunks, on up to ``max_workers`` forked
    worker processes.

    Returns the outcomes in file order and reports progress as chunks complete. ``worker``
    must be a module-level function returning one outcome per file; workers are forked, so
    they inherit whatever the caller prepared.

    One file cannot cost the others their results: when a worker dies on a chunk (a crash, a
    signal, the memory or CPU limit) or ``worker`` raises, the outcomes of every other chunk
    are kept and that chunk runs again one file at a time (a worker that failed is replaced).
    A file that fails on its own gets ``crashed(path, reason)`` as its outcome (``reason`` says what
    happened to the process, never anything read from the file); without ``crashed``,
    :class:`WorkerFailed` is raised.
    """
    total = len(files)
    pending = [
        list(range(start, min(start + chunk_size, total))) for start in range(0, total, chunk_size)
    ]
    pending.reverse()  # taken from the end: chunks start in file order
    progress(0, total)
    outcomes: list[Any] = [None] * total
    done = 0
    workers: list[_Worker] = []
    context = multiprocessing.get_context("fork")
    try:
        while pending or any(item.task is not None for item in workers):
            for item in workers:
                if item.task is None and pending:
                    item.task = pending.pop()
                    # A worker killed from outside while idle: its EOF is read below, and the
                    # task is handled like any other whose worker died.
                    with contextlib.suppress(OSError):
                        item.connection.send([files[index] for index in item.task])
            while pending and len(workers) < max(1, max_workers):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_worker_main, args=(theirs, worker, os.fspath(root)), daemon=True
                )
                process.start()
                theirs.close()  # only the child holds it now: EOF on ours when it is gone
                first = pending.pop()
                ours.send([files[index] for index in first])
                workers.append(_Worker(process, ours, first))
            busy = [item for item in workers if item.task is not None]
            ready = wait([item.connection for item in busy])
            for item in busy:
                if item.connection not in ready:
                    continue
                task, item.task = item.task, None
                assert task is not None
                try:
                    status, value = item.connection.recv()
                except (EOFError, OSError):
                    item.process.join()
                    status, value = "failed", _describe_exit(item.process.exitcode)
                if status != "ok":
                    _retire(item)
                    workers.remove(item)
                if status == "ok" and len(value) == len(task):
                    for index, outcome in zip(task, value, strict=True):
                        outcomes[index] = outcome
                elif len(task) > 1:
                    # Which file it was is not known: each runs again on its own.
                    pending.extend([index] for index in reversed(task))
                    continue
                else:
                    path = files[task[0]]
                    reason = value if status == "failed" else "the worker returned no outcome"
                    if crashed is None:
                        raise WorkerFailed(path, reason)
                    outcomes[task[0]] = crashed(path, reason)
                done += len(task)
                progress(done, total)
    finally:
        for item in workers:
            _retire(item)
    return cast(list[T], outcomes)


def _retire(item: _Worker) -> None:
    """Stop a worker: an idle one is told to return; a busy one (we are leaving early, on an
    exception) is killed at once."""
    if item.task is None and item.process.is_alive():
        with contextlib.suppress(OSError):
            item.connection.send(None)
        item.process.join(timeout=_RETIRE_SECONDS)
    item.connection.close()
    if item.process.is_alive():
        item.process.kill()
    item.process.join()
