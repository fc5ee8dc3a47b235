"""Discovery never follows links or lists special files; reading reports binary and bad UTF-8;
a file that kills its worker process costs only itself."""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
from pathlib import Path

import pytest

from scanpulse.analyzers.base import Gap
from scanpulse.analyzers.files import (
    WorkerFailed,
    discover_files,
    is_probably_binary,
    process_in_chunks,
    read_text,
)

MIB = 1024 * 1024


def _write(root: Path, relative: str, data: bytes = b"x\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_lists_regular_files_sorted_and_skips_git_directories(tmp_path: Path) -> None:
    for name in ("b.py", "a/z.txt", "a/b/c.md", ".hidden", ".git/config", "vendor/x/.git/HEAD"):
        _write(tmp_path, name)
    _write(tmp_path, ".gitignore")

    discovery = discover_files(tmp_path, max_file_size=MIB)

    assert discovery.files == [".gitignore", ".hidden", "a/b/c.md", "a/z.txt", "b.py"]
    assert discovery.messages == []


def test_symlink_outside_the_checkout_is_skipped_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "link.txt").symlink_to("/etc/passwd")
    (tmp_path / "dangling").symlink_to("/nonexistent/target")
    _write(tmp_path, "real.txt")

    discovery = discover_files(tmp_path, max_file_size=MIB)

    assert discovery.files == ["real.txt"]
    assert discovery.messages == [
        "dangling: symbolic link to a path outside the repository, skipped",
        "link.txt: symbolic link to a path outside the repository, skipped",
    ]


def test_symlinks_inside_the_checkout_are_skipped_quietly_and_not_followed(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/mod.py")
    (tmp_path / "alias.py").symlink_to(tmp_path / "pkg" / "mod.py")
    (tmp_path / "pkg-link").symlink_to(tmp_path / "pkg", target_is_directory=True)
    (tmp_path / "relative").symlink_to("pkg/mod.py")

    discovery = discover_files(tmp_path, max_file_size=MIB)

    assert discovery.files == ["pkg/mod.py"]
    assert discovery.messages == []


def test_every_skipped_file_is_also_a_gap(tmp_path: Path) -> None:
    _write(tmp_path, "big.bin", b"x" * (2 * MIB))
    _write(tmp_path, "ok.txt")
    (tmp_path / "passwd-link").symlink_to("/etc/passwd")

    discovery = discover_files(tmp_path, max_file_size=MIB)

    assert discovery.files == ["ok.txt"]
    assert discovery.gaps == [
        Gap("big.bin", "skipped", "2 MB exceeds the 1 MB per-file limit"),
        Gap("passwd-link", "skipped", "symbolic link to a path outside the repository"),
    ]


def test_special_files_and_big_files_are_skipped_with_messages(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with open(tmp_path / "big.bin", "wb") as handle:
        handle.truncate(int(52.4 * MIB))
    with open(tmp_path / "exactly.bin", "wb") as handle:
        handle.truncate(10 * MIB)

    discovery = discover_files(tmp_path, max_file_size=10 * MIB)

    assert discovery.files == ["exactly.bin"]
    assert discovery.messages == [
        "big.bin: 52.4 MB exceeds the 10 MB per-file limit, skipped",
        "pipe: a named pipe, skipped",
    ]


def test_file_names_that_are_not_utf8_are_skipped(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"x")

    discovery = discover_files(tmp_path, max_file_size=MIB)

    assert discovery.files == []
    assert discovery.messages == ["caf\ufffd.txt: file name is not valid UTF-8, skipped"]


def test_binary_sniffing_looks_at_the_first_8_kib_only() -> None:
    assert is_probably_binary(b"abc\0def")
    assert not is_probably_binary(b"a" * 8192 + b"\0")
    assert not is_probably_binary("héllo".encode())


def test_read_text_reports_the_outcome(tmp_path: Path) -> None:
    good = read_text(_write(tmp_path, "good.txt", "héllo\n".encode()))
    bad = read_text(_write(tmp_path, "bad.txt", b"caf\xe9\n"))
    binary = read_text(_write(tmp_path, "img.png", b"\x89PNG\r\n\x1a\n\0\0"))

    assert (good.text, good.valid_utf8, good.binary) == ("héllo\n", True, False)
    assert (bad.text, bad.valid_utf8, bad.binary) == (None, False, False)
    assert bad.text_replacing_errors() == "caf\ufffd\n"
    assert binary.binary and binary.text is None


def test_read_text_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/etc/passwd")
    with pytest.raises(OSError):
        read_text(tmp_path / "link")


def _lengths(root: str, chunk: list[str]) -> list[tuple[str, int]]:
    return [(name, len(name)) for name in chunk]


@pytest.mark.parametrize("workers", [1, 2])
def test_process_in_chunks_keeps_file_order_and_reports_progress(
    tmp_path: Path, workers: int
) -> None:
    files = [f"f{i:03}" * (i % 3 + 1) for i in range(23)]
    progress: list[tuple[int, int]] = []

    outcomes = process_in_chunks(
        _lengths,
        tmp_path,
        files,
        max_workers=workers,
        progress=lambda done, total: progress.append((done, total)),
        chunk_size=5,
    )

    assert outcomes == [(name, len(name)) for name in files]
    assert progress[0] == (0, 23) and progress[-1] == (23, 23)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert len(progress) == 6


# --- one file cannot cost the others their results -------------------------------------------

# What each file does to the process analyzing it.
FATAL = {
    "segfault": "the worker process analyzing it was killed (SIGSEGV)",
    "exits": "the worker process analyzing it exited without a result (exit code 3)",
    "raises": "the worker process analyzing it failed (unhandled ValueError)",
    "memory": "the worker process analyzing it ran out of memory",
    "cpu": "the worker process analyzing it exceeded its CPU time limit",
}


def _fragile(root: str, chunk: list[str]) -> list[tuple[str, int]]:
    for name in chunk:
        if name == "segfault":
            faulthandler.disable()  # pytest's traceback dump would only clutter the output
            ctypes.string_at(0)
        elif name == "exits":
            os._exit(3)
        elif name == "raises":
            raise ValueError("the content of the file, which must not be shown")
        elif name == "memory":
            raise MemoryError
        elif name == "cpu":
            os.kill(os.getpid(), signal.SIGXCPU)  # what RLIMIT_CPU sends
    return [(name, len(name)) for name in chunk]


def _crashed(path: str, reason: str) -> tuple[str, int]:
    return (f"{path}: {reason}", -1)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_kills_its_worker_costs_only_itself(tmp_path: Path, workers: int) -> None:
    # given: files that crash, exit, raise or run out of memory or CPU, among good ones
    files = [f"good{i:02}" for i in range(12)]
    for position, fatal in zip((1, 4, 5, 8, 11), FATAL, strict=True):
        files.insert(position, fatal)
    progress: list[tuple[int, int]] = []

    # when
    outcomes = process_in_chunks(
        _fragile,
        tmp_path,
        files,
        max_workers=workers,
        progress=lambda done, total: progress.append((done, total)),
        chunk_size=4,
        crashed=_crashed,
    )

    # then: every good file has its result; each fatal one says what happened, no more
    assert outcomes == [
        (f"{name}: {FATAL[name]}", -1) if name in FATAL else (name, len(name)) for name in files
    ]
    assert progress[0] == (0, 17) and progress[-1] == (17, 17)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_without_a_crash_handler_the_failing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(WorkerFailed) as failed:
        process_in_chunks(
            _fragile,
            tmp_path,
            ["a", "b", "segfault", "c"],
            max_workers=2,
            progress=lambda done, total: None,
            chunk_size=2,
        )
    assert (failed.value.path, failed.value.reason) == ("segfault", FATAL["segfault"])
