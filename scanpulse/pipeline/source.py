"""Fetch the code to scan: a shallow git checkout of one ref, with hard limits.

Repositories are untrusted. Git runs with only the allowed protocols (never ``ext::`` or
``fd::``, also for anything a repository could point to), without hooks, without system or
user configuration, without submodules, and without ever prompting for credentials. Time
and size are bounded; every failure becomes a message a user can act on.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_STDERR_LIMIT = 16 * 1024


class FetchError(Exception):
    """The source could not be fetched; ``str()`` is a user-facing message."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout_seconds: float = 300
    max_bytes: int = 2 * 1024**3
    allow_local: bool = False
    protocols: tuple[str, ...] = ("https", "ssh")
    submodules: bool = False


@dataclass(slots=True)
class Checkout:
    path: Path
    commit_sha: str
    ref: str
    messages: list[str] = field(default_factory=list)


@contextlib.contextmanager
def workspace(base: Path, prefix: str) -> Iterator[Path]:
    """A private temporary directory, removed afterwards whatever happens."""
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Delete a tree even where a repository made parts of it read-only."""

    def make_writable_and_retry(function: Callable[..., object], target: str, *_: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            function(target)

    if not (path.exists() or path.is_symlink()):
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)


def git_environment(home: Path, limits: FetchLimits) -> dict[str, str]:
    protocols = list(limits.protocols)
    if limits.allow_local:
        protocols.append("file")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_ALLOW_PROTOCOL": ":".join(protocols),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_LFS_SKIP_SMUDGE": "1",
    }


_SAFE_CONFIG = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "protocol.fd.allow=never",
    "-c",
    "submodule.recurse=false",
    "-c",
    "advice.detachedHead=false",
    "-c",
    "init.defaultBranch=main",
]


def _directory_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _git(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    deadline: float,
    limits: FetchLimits,
    watch: Path | None = None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> subprocess.CompletedProcess[str]:
    """Run git with the safe configuration; enforce the deadline, size and cancellation."""
    if time.monotonic() > deadline:
        raise FetchError(f"Fetching the repository took longer than {limits.timeout_seconds:g} s.")
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            ["git", *_SAFE_CONFIG, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        next_size_check = time.monotonic() + 1.0
        try:
            while True:
                try:
                    process.wait(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"Fetching the repository took longer than {limits.timeout_seconds:g} s."
                    )
                if watch is not None and time.monotonic() >= next_size_check:
                    # Walking the tree costs; once a second is enough to stop a runaway fetch.
                    next_size_check = time.monotonic() + 1.0
                    if _directory_size(watch) > limits.max_bytes:
                        raise FetchError(
                            f"The repository is larger than the "
                            f"{limits.max_bytes // 1024**2} MB limit."
                        )
                if is_cancelled():
                    raise FetchCancelled()
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(
            process.args,
            process.returncode,
            stdout.read().decode("utf-8", "replace"),
            stderr.read(_STDERR_LIMIT).decode("utf-8", "replace"),
        )


class FetchCancelled(Exception):
    pass


def _explain(stderr: str, ref: str) -> str:
    text = stderr.lower()
    if (
        "terminal prompts disabled" in text
        or "authentication failed" in text
        or ("could not read username" in text)
        or "permission denied (publickey" in text
    ):
        return "The repository needs credentials that this server does not have."
    if "couldn't find remote ref" in text or "not our ref" in text or "unadvertised object" in text:
        return f"The ref '{ref}' does not exist in the repository."
    if "transport" in text and "not allowed" in text:
        return "That repository transport is not allowed on this server."
    if "could not resolve host" in text or "connection refused" in text or "timed out" in text:
        return "The repository's host could not be reached."
    if (
        "does not appear to be a git repository" in text
        or "repository not found" in text
        or "not found" in text
        or "no such file or directory" in text
    ):
        return "The repository does not exist or is not reachable."
    return "Git could not fetch the repository."


_NOT_A_REPOSITORY = ("does not appear to be a git repository", "invalid gitfile format")


def _not_a_repository(location: str, stderr: str, limits: FetchLimits) -> str | None:
    """Git words a local path that holds no repository exactly like one that does not exist;
    tell them apart, so that the user knows whether to fix the path or the directory."""
    if not limits.allow_local or not any(sign in stderr.lower() for sign in _NOT_A_REPOSITORY):
        return None
    if location.startswith("file://"):
        path = Path(unquote(urlsplit(location).path))
    elif location.startswith("/"):
        path = Path(location)
    else:
        return None
    return f"{path} is not a git repository." if path.exists() else None


def fetch(
    location: str,
    ref: str,
    destination: Path,
    *,
    limits: FetchLimits,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> Checkout:
    """Check out ``ref`` of ``location`` into ``destination`` (an empty directory)."""
    if location.startswith("-") or "::" in location.split("/", 1)[0]:
        raise FetchError("That repository location is not allowed.")
    deadline = time.monotonic() + limits.timeout_seconds
    home = destination.parent / (destination.name + ".home")
    home.mkdir(exist_ok=True)
    env = git_environment(home, limits)
    source = location
    if limits.allow_local and location.startswith("/"):
        source = Path(location).as_uri()  # file:// makes git honour --depth
    try:
        listing = _git(
            ["ls-remote", "--", source],
            cwd=home,
            env=env,
            deadline=deadline,
            limits=limits,
            is_cancelled=is_cancelled,
        )
        if listing.returncode != 0:
            raise FetchError(
                _not_a_repository(location, listing.stderr, limits) or _explain(listing.stderr, ref)
            )
        refs = {line.split("\t", 1)[1] for line in listing.stdout.splitlines() if "\t" in line}
        if not refs:
            raise FetchError("The repository is empty: it has no commits to scan.")
        is_named = any(
            candidate in refs for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}")
        )
        if not is_named and not _SHA.match(ref):
            raise FetchError(f"The ref '{ref}' does not exist in the repository.")

        destination.mkdir(parents=True, exist_ok=True)
        steps: list[list[str]] = [
            ["init", "--quiet", "--", str(destination)],
            [
                "-C",
                str(destination),
                "fetch",
                "--quiet",
                "--depth=1",
                "--no-tags",
                "--no-recurse-submodules",
                "--",
                source,
                ref,
            ],
        ]
        for args in steps:
            result = _git(
                args,
                cwd=home,
                env=env,
                deadline=deadline,
                limits=limits,
                watch=destination,
                is_cancelled=is_cancelled,
            )
            if result.returncode != 0:
                if args[2:3] == ["fetch"] and not is_named:
                    raise FetchError(
                        f"The commit '{ref}' could not be fetched (the server may not allow "
                        "fetching commits by hash)."
                    )
                raise FetchError(_explain(result.stderr, ref))
        checkout_args = ["-C", str(destination), "checkout", "--quiet", "--detach", "FETCH_HEAD"]
        result = _git(
            checkout_args,
            cwd=home,
            env=env,
            deadline=deadline,
            limits=limits,
            watch=destination,
            is_cancelled=is_cancelled,
        )
        if result.returncode != 0:
            raise FetchError("The fetched commit could not be checked out.")
        if limits.submodules:
            result = _git(
                [
                    "-C",
                    str(destination),
                    "-c",
                    "protocol.file.allow=user",
                    "submodule",
                    "update",
                    "--init",
                    "--depth=1",
                    "--recursive",
                ],
                cwd=home,
                env=env,
                deadline=deadline,
                limits=limits,
                watch=destination,
                is_cancelled=is_cancelled,
            )
            if result.returncode != 0:
                raise FetchError("The repository's submodules could not be fetched.")
        sha = _git(
            ["-C", str(destination), "rev-parse", "HEAD"],
            cwd=home,
            env=env,
            deadline=deadline,
            limits=limits,
            is_cancelled=is_cancelled,
        ).stdout.strip()
        if _directory_size(destination) > limits.max_bytes:
            raise FetchError(
                f"The repository is larger than the {limits.max_bytes // 1024**2} MB limit."
            )
        return Checkout(destination, sha, ref)
    finally:
        remove_tree(home)
