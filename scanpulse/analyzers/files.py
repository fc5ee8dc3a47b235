"""Files of a checkout for the runner and the analyzers: safe discovery, reading, and
spreading them over worker processes.

Nothing here follows a symbolic link, so an analyzer never reads outside the checkout.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BINARY_SNIFF_BYTES = 8192
_MIB = 1024 * 1024


@dataclass(slots=True)
class Discovery:
    """The regular files of a checkout, and what was left out that the user should hear about."""

    files: list[str] = field(default_factory=list)  # repository-relative POSIX paths, sorted
    messages: list[str] = field(default_factory=list)  # "path: why it was skipped", sorted


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

    def skip(relative: str, reason: str) -> None:
        messages.append((relative, f"{relative}: {reason}, skipped"))

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
    return Discovery(files=files, messages=[message for _, message in messages])


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


def process_in_chunks(
    worker: Callable[[str, list[str]], list[T]],
    root: Path,
    files: Sequence[str],
    *,
    max_workers: int,
    progress: Callable[[int, int], None],
    chunk_size: int = 50,
) -> list[T]:
    """``worker(root, chunk)`` over ``files`` in chunks, on up to ``max_workers`` processes.

    Returns the outcomes in file order and reports progress as chunks complete. ``worker``
    must be a module-level function; workers are forked, so they inherit whatever the caller
    prepared. With one worker everything runs in this process.
    """
    total = len(files)
    chunks = [list(files[i : i + chunk_size]) for i in range(0, total, chunk_size)]
    progress(0, total)
    results: list[list[T]] = [[] for _ in chunks]
    done = 0
    if max_workers <= 1 or len(chunks) <= 1:
        for index, chunk in enumerate(chunks):
            results[index] = worker(os.fspath(root), chunk)
            done += len(chunk)
            progress(done, total)
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(max_workers, len(chunks)), mp_context=context) as pool:
            futures = {
                pool.submit(worker, os.fspath(root), chunk): index
                for index, chunk in enumerate(chunks)
            }
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                done += len(chunks[index])
                progress(done, total)
    return [outcome for chunk_outcomes in results for outcome in chunk_outcomes]
