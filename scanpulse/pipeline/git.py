"""git run on an untrusted repository: the safe configuration and environment, and one
fetch's git session, which bounds every command by the fetch's deadline, size and file limits
and stops it on cancellation."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .locations import LocalPolicy, NetworkPolicy

_STDERR_LIMIT = 16 * 1024


class FetchError(Exception):
    """The source could not be fetched; ``str()`` is a user-facing message."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """``max_bytes`` bounds the checkout with its ``.git``; ``max_files`` the files and
    directories of the checkout (a few KiB of git objects can describe millions)."""

    timeout_seconds: float = 300
    max_bytes: int = 2 * 1024**3
    max_files: int = 100_000
    allow_local: bool = False
    protocols: tuple[str, ...] = ("https", "ssh")
    submodules: bool = False
    # Hosts a worker may connect to: public addresses, plus what the operator allows.
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    # Where local repositories may lie; ``None`` leaves local paths unrestricted (callers
    # without tenants). The worker always passes the organization's policy.
    local: LocalPolicy | None = None
    # CA certificates (a PEM file) trusted for HTTPS instead of the system's; "" for those.
    ca_bundle: str = ""


class FetchCancelled(Exception):
    """The scan was cancelled while git ran; its process group has been killed."""


SSH_COMMAND = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"


def git_environment(home: Path, limits: FetchLimits) -> dict[str, str]:
    """The whole environment git runs with: no prompt, no system or user configuration, and
    only the transports the limits allow."""
    protocols = list(limits.protocols)
    if limits.allow_local:
        protocols.append("file")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_ALLOW_PROTOCOL": ":".join(protocols),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_SSH_COMMAND": SSH_COMMAND,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_LFS_SKIP_SMUDGE": "1",
    }
    if limits.ca_bundle:
        env["GIT_SSL_CAINFO"] = limits.ca_bundle
    return env


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
    "http.followRedirects=false",
    "-c",
    "advice.detachedHead=false",
    "-c",
    "init.defaultBranch=main",
]


def _byte_size(size: int) -> str:
    """``size`` exactly, in the largest unit that divides it: ``2 GB``, ``512 KB``,
    ``1,000 bytes`` (units of 1024, as in every size scanpulse shows)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor:,} {unit}"
    return "1 byte" if size == 1 else f"{size:,} bytes"


def _too_large(limits: FetchLimits) -> FetchError:
    return FetchError(f"The repository is larger than the {_byte_size(limits.max_bytes)} limit.")


def _too_many_files(limits: FetchLimits) -> FetchError:
    return FetchError(
        f"The repository has more than {limits.max_files:,} files and directories, the limit."
    )


def _lstat_size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _timed_out(limits: FetchLimits) -> FetchError:
    return FetchError(f"Fetching the repository took longer than {limits.timeout_seconds:g} s.")


@dataclass(frozen=True, slots=True)
class GitSession:
    """The git commands of one fetch: run from ``home`` with ``env``, all within one
    ``deadline`` and the fetch's ``limits``, stopped when ``is_cancelled()`` turns true.
    ``checkout`` is the directory the fetch writes, watched against the size limits."""

    home: Path
    checkout: Path
    env: dict[str, str]
    deadline: float
    limits: FetchLimits
    is_cancelled: Callable[[], bool] = lambda: False

    def in_checkout(self, *args: str, watch: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``git -C <checkout> <args>``, by default watching the checkout's size."""
        return self.run("-C", str(self.checkout), *args, watch=watch)

    def run(self, *args: str, watch: bool = False) -> subprocess.CompletedProcess[str]:
        """Run git with the safe configuration; enforce the deadline, the size limits (of the
        checkout, when ``watch``) and cancellation."""
        limits = self.limits
        if time.monotonic() > self.deadline:
            raise _timed_out(limits)
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                ["git", *_SAFE_CONFIG, *args],
                cwd=self.home,
                env=self.env,
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
                    if time.monotonic() > self.deadline:
                        raise _timed_out(limits)
                    if watch and time.monotonic() >= next_size_check:
                        # Walking the tree costs; once a second is enough to stop a runaway fetch.
                        next_size_check = time.monotonic() + 1.0
                        self.check_usage()
                    if self.is_cancelled():
                        raise FetchCancelled()
            finally:
                _kill(process)
            stdout.seek(0)
            stderr.seek(0)
            return subprocess.CompletedProcess(
                process.args,
                process.returncode,
                stdout.read().decode("utf-8", "replace"),
                stderr.read(_STDERR_LIMIT).decode("utf-8", "replace"),
            )

    def check_usage(self) -> None:
        """Raise when the checkout has grown past a limit: its bytes, ``.git`` included, or its
        files and directories, ``.git`` not counted."""
        path, limits = self.checkout, self.limits
        git_dir = os.path.join(path, ".git")
        size = entries = 0
        for root, dirs, files in os.walk(path):
            size += sum(_lstat_size(os.path.join(root, name)) for name in files)
            if root == git_dir or root.startswith(git_dir + os.sep):
                continue
            entries += len(dirs) + len(files) - (root == str(path) and ".git" in dirs)
            if entries > limits.max_files:
                raise _too_many_files(limits)
        if size > limits.max_bytes:
            raise _too_large(limits)

    def check_tree(self) -> None:
        """Refuse the fetched commit before checking it out when its files and directories, or
        their bytes, exceed the limits.

        git lists the tree from its objects without writing anything, and is stopped as soon as
        a limit is passed: a few KiB of objects reusing one subtree can describe millions of
        files or gigabytes of content, which the checkout would otherwise write out first.
        """
        limits = self.limits
        process = subprocess.Popen(
            [
                "git",
                *_SAFE_CONFIG,
                "ls-tree",
                "-r",  # every file,
                "-t",  # every directory on the way too,
                "--long",  # with blob sizes,
                "-z",  # NUL-terminated, names unquoted
                "FETCH_HEAD",
            ],
            cwd=self.checkout,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stdout is not None
        entries = size = 0
        pending = b""
        try:
            while True:
                if time.monotonic() > self.deadline:
                    raise _timed_out(limits)
                if self.is_cancelled():
                    raise FetchCancelled()
                readable, _, _ = select.select([process.stdout], [], [], 0.25)
                if not readable:
                    continue
                chunk = os.read(process.stdout.fileno(), 256 * 1024)
                if not chunk:
                    break
                *records, pending = (pending + chunk).split(b"\0")
                entries += len(records)
                for record in records:
                    # "<mode> <type> <object> <size>\t<path>"; trees and submodules have no size.
                    blob_size = record.split(b"\t", 1)[0].rsplit(b" ", 1)[-1].strip()
                    if blob_size != b"-":
                        size += int(blob_size)
                if entries > limits.max_files:
                    raise _too_many_files(limits)
                if size > limits.max_bytes:
                    raise _too_large(limits)
            if process.wait() != 0:
                raise FetchError("The fetched commit could not be checked out.")
        finally:
            _kill(process)
            process.stdout.close()


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process group of a git still running, and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
