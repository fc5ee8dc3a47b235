"""Fetch the code to scan: a shallow git checkout of one ref, with hard limits.

Repositories are untrusted. Git runs with only the allowed protocols (never ``ext::`` or
``fd::``, also for anything a repository could point to), without hooks, without system or
user configuration, without submodules, and without ever prompting for credentials. Time
and size are bounded; every failure becomes a message a user can act on.

Locations are untrusted too (see ``locations``): a local path is resolved and must lie where
the organization may scan; a host is resolved (``targets``), every address must be allowed, and git
connects to exactly those addresses (``http.curloptResolve``, ssh's ``HostName``) and follows
no redirect. A refused host and a host that cannot be reached give one and the same message.

The pieces: ``git`` runs git safely within the limits, ``targets`` checks a location and pins
git to it, ``workspace`` holds the scratch directories; this module fetches and explains.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .auth import (
    HTTPS_TOKEN,
    SSH_KEY,
    GitAuth,
    PreparedAuth,
    host_key_lines,
    prepared,
    ssh_fingerprint,
)
from .git import FetchCancelled, FetchError, FetchLimits, GitSession, git_environment
from .locations import HOST_REFUSED, LocationRefused, remote_of
from .targets import Target, checked_target
from .workspace import remove_tree

# What fetching raises and is given, importable from here with ``fetch``.
__all__ = ["Checkout", "FetchCancelled", "FetchError", "FetchLimits", "GitAuth", "fetch"]

_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


@dataclass(slots=True)
class Checkout:
    path: Path
    commit_sha: str
    ref: str
    messages: list[str] = field(default_factory=list)


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


_HOST_KEY_CHANGED = ("remote host identification has changed", "host key verification failed")


def _explain(stderr: str, ref: str, auth: GitAuth | None = None) -> str:
    text = stderr.lower()
    if auth is not None and auth.kind == SSH_KEY and any(s in text for s in _HOST_KEY_CHANGED):
        pins = ", ".join(
            f"{kind} {_fingerprint(key)}" for _, kind, key in host_key_lines(auth.known_hosts)
        )
        return (
            f"The SSH host key of the repository's host does not match the key pinned for "
            f"{auth.label} ({pins}): the connection was refused. If the host's key really "
            "changed, an owner or admin can reset the pin under Credentials & access."
        )
    if auth is not None and (
        "authentication failed" in text
        or "could not read username" in text
        or "could not read password" in text
        or "permission denied (publickey" in text
        or "returned error: 401" in text
        or "returned error: 403" in text
    ):
        return auth.refused()
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
    auth: GitAuth | None = None,
) -> Checkout:
    """Check out ``ref`` of ``location`` into ``destination`` (an empty directory), with
    ``auth``'s credentials when given (held in private files only while git runs)."""
    if location.startswith("-") or "::" in location.split("/", 1)[0]:
        raise FetchError("That repository location is not allowed.")
    try:
        target = checked_target(location, limits)
    except LocationRefused as exc:
        raise FetchError(str(exc)) from None
    deadline = time.monotonic() + limits.timeout_seconds
    home = destination.parent / (destination.name + ".home")
    home.mkdir(exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            credentials = PreparedAuth({})
            if auth is not None:
                credentials = stack.enter_context(_prepared(auth, location, target, home))
            git = GitSession(
                home=home,
                checkout=destination,
                env=git_environment(home, limits) | target.environment() | credentials.environment,
                deadline=deadline,
                limits=limits,
                is_cancelled=is_cancelled,
            )
            return _fetch(git, location, ref, destination, target.source, limits, auth, credentials)
    finally:
        remove_tree(home)


def _prepared(auth: GitAuth, location: str, target: Target, home: Path) -> Any:
    remote = remote_of(location)
    if remote is None:
        raise FetchError(f"The credentials of {auth.label} are for remote repositories only.")
    if auth.kind == HTTPS_TOKEN and remote.scheme != "https":
        # Never over plain http://, where anyone on the way would read the token.
        raise FetchError(
            f"The credentials of {auth.label} are an HTTPS token, but the repository's URL is "
            "not an https:// URL: use an SSH deploy key, or the repository's HTTPS URL."
        )
    if auth.kind == SSH_KEY and remote.scheme in ("https", "http"):
        raise FetchError(
            f"The credentials of {auth.label} are an SSH deploy key, but the repository's URL "
            "is an https:// URL: use its SSH URL, or an HTTPS token."
        )
    return prepared(
        auth, remote=remote, source=target.source, ssh_address=target.ssh_address, scratch=home
    )


def _fingerprint(key: str) -> str:
    try:
        return ssh_fingerprint(key)
    except ValueError:
        return "an unreadable key"


def _fetch(
    git: GitSession,
    location: str,
    ref: str,
    destination: Path,
    source: str,
    limits: FetchLimits,
    auth: GitAuth | None,
    credentials: PreparedAuth,
) -> Checkout:
    listing = git.run("ls-remote", "--", source)
    if listing.returncode != 0:
        raise FetchError(
            _not_a_repository(location, listing.stderr, limits)
            or _explain(listing.stderr, ref, auth)
        )
    _pin_new_host_key(auth, credentials)
    refs = {line.split("\t", 1)[1] for line in listing.stdout.splitlines() if "\t" in line}
    if not refs:
        raise FetchError("The repository is empty: it has no commits to scan.")
    is_named = any(
        candidate in refs for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}")
    )
    if not is_named and not _SHA.match(ref):
        raise FetchError(f"The ref '{ref}' does not exist in the repository.")

    destination.mkdir(parents=True, exist_ok=True)
    created = git.run("init", "--quiet", "--", str(destination), watch=True)
    if created.returncode != 0:
        raise FetchError(_explain(created.stderr, ref))
    fetched = git.in_checkout(
        "fetch",
        "--quiet",
        "--depth=1",
        "--no-tags",
        "--no-recurse-submodules",
        "--",
        source,
        ref,
    )
    if fetched.returncode != 0:
        if not is_named:
            raise FetchError(
                f"The commit '{ref}' could not be fetched (the server may not allow "
                "fetching commits by hash)."
            )
        raise FetchError(_explain(fetched.stderr, ref, auth))
    git.check_tree()
    if git.in_checkout("checkout", "--quiet", "--detach", "FETCH_HEAD").returncode != 0:
        raise FetchError("The fetched commit could not be checked out.")
    if limits.submodules:
        submodules = git.in_checkout(
            "-c",
            "protocol.file.allow=user",
            "submodule",
            "update",
            "--init",
            "--depth=1",
            "--recursive",
        )
        if submodules.returncode != 0:
            raise FetchError("The repository's submodules could not be fetched.")
    sha = git.in_checkout("rev-parse", "HEAD", watch=False).stdout.strip()
    git.check_usage()
    return Checkout(destination, sha, ref)


def _pin_new_host_key(auth: GitAuth | None, credentials: PreparedAuth) -> None:
    """Hand the host key ssh accepted on first use to be pinned (once git got in with it)."""
    if auth is None or credentials.known_hosts is None or host_key_lines(auth.known_hosts):
        return
    seen = credentials.known_hosts.read_text()
    if host_key_lines(seen) and auth.on_new_host_key is not None:
        auth.on_new_host_key(seen)
