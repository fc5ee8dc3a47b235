"""Fetch the code to scan: a shallow git checkout of one ref, with hard limits.

Repositories are untrusted. Git runs with only the allowed protocols (never ``ext::`` or
``fd::``, also for anything a repository could point to), without hooks, without system or
user configuration, without submodules, and without ever prompting for credentials. Time
and size are bounded; every failure becomes a message a user can act on.

Locations are untrusted too (see ``locations``): a local path is resolved and must lie where
the organization may scan; a host is resolved here, every address must be allowed, and git
connects to exactly those addresses (``http.curloptResolve``, ssh's ``HostName``) and follows
no redirect. A refused host and a host that cannot be reached give one and the same message.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
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

from .locations import (
    HOST_REFUSED,
    LocalPolicy,
    LocationRefused,
    NetworkPolicy,
    literal_address,
    local_path_of,
    remote_of,
)

_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
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


SSH_COMMAND = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
# ``http.curloptResolve`` (pinning HTTP(S) connections to checked addresses) needs git 2.37.
PINNING_GIT_VERSION = (2, 37)


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
        "GIT_SSH_COMMAND": SSH_COMMAND,
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


def _check_usage(path: Path, limits: FetchLimits) -> None:
    """Raise when the checkout at ``path`` has grown past a limit: its bytes, ``.git``
    included, or its files and directories, ``.git`` not counted."""
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


def _lstat_size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


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
                    _check_usage(watch, limits)
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


def _check_tree(
    destination: Path,
    *,
    env: dict[str, str],
    deadline: float,
    limits: FetchLimits,
    is_cancelled: Callable[[], bool],
) -> None:
    """Refuse the fetched commit before checking it out when its files and directories, or
    their bytes, exceed the limits.

    git lists the tree from its objects without writing anything, and is stopped as soon as
    a limit is passed: a few KiB of objects reusing one subtree can describe millions of
    files or gigabytes of content, which the checkout would otherwise write out first.
    """
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
        cwd=destination,
        env=env,
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
            if time.monotonic() > deadline:
                raise FetchError(
                    f"Fetching the repository took longer than {limits.timeout_seconds:g} s."
                )
            if is_cancelled():
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
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()


_REDIRECTED = re.compile(r"returned error: 30[1-8]")
# What curl and ssh say when no git conversation could start with the host.
_CONNECTION_FAILED = (
    "could not resolve host",  # curl, and ssh's "could not resolve hostname"
    "failed to connect",
    "couldn't connect",
    "connection refused",
    "timed out",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "connection closed",
    "empty reply from server",
    "recv failure",
    "send failure",
    "handshake",
    "ssl",
    "tls",
    "certificate",
    "http/0.9",
    "kex_exchange_identification",
    "ssh_exchange_identification",
    "unexpected disconnect",
)


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
    if _REDIRECTED.search(text):
        return (
            "The repository's server answered with a redirect, which is never followed: "
            "use the URL it redirects to."
        )
    if any(sign in text for sign in _CONNECTION_FAILED):
        # The same words whether the port is closed, filtered, or open but speaking
        # something else: nothing to tell a reachable service from an unreachable one.
        return HOST_REFUSED
    if (
        "does not appear to be a git repository" in text
        or "repository not found" in text
        or "not found" in text
        or "no such file or directory" in text
    ):
        return "The repository does not exist or is not reachable."
    return "Git could not fetch the repository."


@dataclass(frozen=True, slots=True)
class Target:
    """What git is given for a checked location: the source, and how to reach its host."""

    source: str
    resolve: str | None = None  # an ``http.curloptResolve`` entry: host:port:addresses
    ssh_address: str | None = None  # the checked address ssh connects to for the host

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.resolve is not None:
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.curloptResolve",
                "GIT_CONFIG_VALUE_0": self.resolve,
            }
        if self.ssh_address is not None:
            env["GIT_SSH_COMMAND"] = f"{SSH_COMMAND} -o HostName={self.ssh_address}"
        return env


def checked_target(location: str, limits: FetchLimits) -> Target:
    """Check where ``location`` leads, now, and pin git to what was checked.

    Raises ``LocationRefused`` with a user-facing message.
    """
    path = local_path_of(location)
    if path is not None:
        if not limits.allow_local:
            return Target(location)  # git refuses the file protocol itself
        if limits.local is not None:
            path = str(limits.local.check(path))  # the resolved path: no link to follow later
        return Target(Path(path).as_uri())  # file:// makes git honour --depth
    remote = remote_of(location)
    if remote is None:
        raise LocationRefused("That repository location is not allowed.")
    addresses = limits.network.check(remote)
    if literal_address(remote.host) is not None:
        return Target(location)  # an address: nothing is looked up
    if remote.scheme in ("http", "https"):
        if _git_version() < PINNING_GIT_VERSION:
            raise LocationRefused(
                "This server's git is too old to fetch over HTTPS safely (2.37 or later)."
            )
        pinned = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
        return Target(location, resolve=f"{remote.host}:{remote.port}:{pinned}")
    if remote.scheme in _SSH_SCHEMES:
        return Target(location, ssh_address=str(addresses[0]))
    # git:// (or another transport an operator enabled) would look the name up again itself,
    # and nothing pins that answer to the checked one: only addresses are fetched that way.
    raise LocationRefused(HOST_REFUSED)


_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})


@functools.cache
def _git_version() -> tuple[int, int]:
    try:
        output = subprocess.run(
            ["git", "version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    found = re.search(r"(\d+)\.(\d+)", output)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


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
    try:
        target = checked_target(location, limits)
    except LocationRefused as exc:
        raise FetchError(str(exc)) from None
    deadline = time.monotonic() + limits.timeout_seconds
    home = destination.parent / (destination.name + ".home")
    home.mkdir(exist_ok=True)
    env = git_environment(home, limits) | target.environment()
    source = target.source
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
        _check_tree(
            destination, env=env, deadline=deadline, limits=limits, is_cancelled=is_cancelled
        )
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
        _check_usage(destination, limits)
        return Checkout(destination, sha, ref)
    finally:
        remove_tree(home)
