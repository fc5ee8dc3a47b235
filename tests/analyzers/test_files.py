"""Discovery never follows links or lists special files; reading reports binary and bad UTF-8."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanpulse.analyzers.files import (
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
