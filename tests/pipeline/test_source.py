"""Fetching untrusted repositories: only safe transports, bounded, always cleaned up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scanpulse.pipeline.source import FetchError, FetchLimits, fetch, workspace
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
