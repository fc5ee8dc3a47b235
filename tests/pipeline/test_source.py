"""Fetching untrusted repositories: only safe transports, bounded, always cleaned up."""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from scanpulse.pipeline.source import FetchError, FetchLimits, fetch
from scanpulse.pipeline.workspace import workspace
from tests.support.repos import GitRepo

LOCAL = FetchLimits(allow_local=True, timeout_seconds=30)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "origin")
    repo.write("a.py", "x = 1\n")
    repo.commit("one")
    repo.git("tag", "v1")
    repo.write("a.py", "x = 2\n")
    repo.commit("two")
    return repo


def test_fetches_a_branch_a_tag_and_a_commit(repo: GitRepo, tmp_path: Path) -> None:
    head = repo.git("rev-parse", "HEAD")
    tagged = repo.git("rev-parse", "v1")
    branch = fetch(str(repo.path), "main", tmp_path / "b", limits=LOCAL)
    tag = fetch(str(repo.path), "v1", tmp_path / "t", limits=LOCAL)
    commit = fetch(repo.path.as_uri(), tagged, tmp_path / "c", limits=LOCAL)
    assert (branch.commit_sha, tag.commit_sha, commit.commit_sha) == (head, tagged, tagged)
    assert (tmp_path / "b" / "a.py").read_text() == "x = 2\n"
    assert (tmp_path / "t" / "a.py").read_text() == "x = 1\n"
    shallow = (tmp_path / "b" / ".git" / "shallow").read_text().split()
    assert shallow == [head], "only the requested commit is fetched"


def test_command_transports_never_run_even_past_validation(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for location in (f"ext::sh -c touch% {marker}", "fd::17", f"-u touch {marker}"):
        with pytest.raises(FetchError):
            fetch(location, "main", tmp_path / "dest", limits=LOCAL)
    assert not marker.exists()


def test_git_itself_refuses_disallowed_protocols(repo: GitRepo, tmp_path: Path) -> None:
    # Local paths are the file protocol: with local repositories off, git refuses them too.
    with pytest.raises(FetchError, match="That repository transport is not allowed on this server"):
        fetch(str(repo.path), "main", tmp_path / "dest", limits=FetchLimits(allow_local=False))


def test_a_local_path_without_a_repository_is_told_apart_from_a_missing_one(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "app.py").write_text("x = 1\n")
    a_file = tmp_path / "app.py"
    a_file.write_text("x = 1\n")
    for location, shown in ((str(plain), plain), (plain.as_uri(), plain), (str(a_file), a_file)):
        with pytest.raises(FetchError) as refused:
            fetch(location, "main", tmp_path / "dest", limits=LOCAL)
        assert str(refused.value) == f"{shown} is not a git repository.", location
    with pytest.raises(FetchError) as missing:
        fetch(str(tmp_path / "missing"), "main", tmp_path / "dest", limits=LOCAL)
    assert str(missing.value) == "The repository does not exist or is not reachable."


def test_hooks_in_the_source_never_run(repo: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "hooked"
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    fetch(str(repo.path), "main", tmp_path / "dest", limits=LOCAL)
    assert not marker.exists()


def test_size_and_time_limits_fail_clearly(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("big.bin", bytes(range(256)) * 40_000)  # ~10 MB, incompressible enough
    repo.commit("big")
    small = FetchLimits(allow_local=True, max_bytes=1024 * 1024)
    with pytest.raises(FetchError, match="larger than the 1 MB limit"):
        fetch(str(repo.path), "main", tmp_path / "dest", limits=small)
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than"):
        fetch(
            str(repo.path),
            "main",
            tmp_path / "slow",
            limits=FetchLimits(allow_local=True, timeout_seconds=0.01),
        )
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "The ref 'nope' does not exist in the repository."),
        ("0" * 40, "could not be fetched"),
    ],
)
def test_missing_refs(repo: GitRepo, tmp_path: Path, ref: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        fetch(str(repo.path), ref, tmp_path / "dest", limits=LOCAL)


def test_workspaces_are_removed_whatever_happens(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), workspace(tmp_path, "scan-1-") as scratch:
        (scratch / "ro").mkdir()
        (scratch / "ro" / "f").write_text("x")
        (scratch / "ro").chmod(0o500)  # a repository can make parts read-only
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def _mktree(repo: GitRepo, rows: list[str]) -> str:
    made = subprocess.run(
        ["git", "mktree"],
        cwd=repo.path,
        input="".join(rows),
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()


def _bomb(path: Path, *, content: bytes, directories: int, files: int) -> GitRepo:
    """A commit of ``directories`` × ``files`` copies of ``content``, stored as one blob, one
    directory tree and one top tree: a few KiB of objects, however much they describe."""
    repo = GitRepo(path)
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=path,
            input=content,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    tree = _mktree(repo, [f"100644 blob {blob}\tf{n}\n" for n in range(files)])
    top = _mktree(repo, [f"040000 tree {tree}\td{n}\n" for n in range(directories)])
    repo.git("update-ref", "refs/heads/main", repo.git("commit-tree", top, "-m", "bomb"))
    return repo


def test_many_files_from_few_objects_are_refused_before_any_is_written(tmp_path: Path) -> None:
    # given: a few KiB of objects describing 100,000 empty files in 100 directories
    bomb = _bomb(tmp_path / "bomb", content=b"", directories=100, files=1000)
    destination = tmp_path / "dest"
    started = time.monotonic()

    # when / then: the default limit refuses it, before the checkout
    with pytest.raises(FetchError) as refused:
        fetch(str(bomb.path), "main", destination, limits=LOCAL)
    assert str(refused.value) == (
        "The repository has more than 100,000 files and directories, the limit."
    )
    assert time.monotonic() - started < 10
    assert [entry.name for entry in destination.iterdir()] == [".git"]


def test_the_file_limit_counts_files_and_directories_exactly(tmp_path: Path) -> None:
    repo = _bomb(tmp_path / "small", content=b"x\n", directories=2, files=3)  # 2 + 6 entries

    checkout = fetch(str(repo.path), "main", tmp_path / "at", limits=replace(LOCAL, max_files=8))
    with pytest.raises(FetchError, match=r"^The repository has more than 7 files and directories"):
        fetch(str(repo.path), "main", tmp_path / "over", limits=replace(LOCAL, max_files=7))

    assert sorted(p.name for p in (checkout.path / "d1").iterdir()) == ["f0", "f1", "f2"]


@pytest.fixture(scope="module")
def zeros(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """4 GiB of zeros in 256 files, from one 16 MiB blob that compresses to a few KiB."""
    path = tmp_path_factory.mktemp("zeros") / "repo"
    return _bomb(path, content=bytes(16 * 1024**2), directories=16, files=16)


@pytest.mark.parametrize(
    ("max_bytes", "shown"),
    [
        (512 * 1024, "512 KB"),
        (1000, "1,000 bytes"),
        (1536 * 1024, "1,536 KB"),
        (1536 * 1024**2, "1,536 MB"),
        (3 * 1024**3, "3 GB"),
    ],
)
def test_size_limits_are_stated_exactly_and_enforced_before_checkout(
    zeros: GitRepo, tmp_path: Path, max_bytes: int, shown: str
) -> None:
    destination = tmp_path / "dest"

    with pytest.raises(FetchError) as refused:
        fetch(str(zeros.path), "main", destination, limits=replace(LOCAL, max_bytes=max_bytes))

    assert str(refused.value) == f"The repository is larger than the {shown} limit."
    assert [entry.name for entry in destination.iterdir()] == [".git"]
