"""Credentials handed to git for one fetch, and the files that carry them while it runs.

A secret never reaches git's command line, its environment, or anyone else's: for HTTPS, git
asks ``GIT_ASKPASS`` — a small script in a private directory (mode 0700) that answers only the
two prompts of the expected host, by printing a file of that directory (mode 0600); for SSH,
the private key is such a file, named by ``IdentityFile`` with ``IdentitiesOnly=yes``. The
host keys pinned for the project go into that directory's own ``known_hosts``; with no pin
yet, the first key seen is accepted and handed back to be pinned (trust on first use), and a
key other than the pinned one is refused. The directory is removed when the fetch ends, also
on an error or a cancellation. No Django here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shlex
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .locations import Remote
from .workspace import remove_tree

HTTPS_TOKEN = "https_token"  # noqa: S105 - a kind of credential, not one
SSH_KEY = "ssh_key"


@dataclass(frozen=True, slots=True)
class GitAuth:
    """What one fetch needs to authenticate: never logged, never shown (``repr`` hides the
    secret). ``label`` names the credential in messages (``project 'app'``, ``credential
    'deploy'``). ``known_hosts`` holds the pinned host keys (``<host> <type> <base64>``
    lines); ``on_new_host_key`` receives the lines of a host key seen for the first time."""

    kind: str  # HTTPS_TOKEN or SSH_KEY
    label: str
    secret: str = field(repr=False)
    username: str = ""
    known_hosts: str = ""
    on_new_host_key: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"GitAuth(kind={self.kind!r}, label={self.label!r}, secret=<hidden>)"

    def refused(self) -> str:
        what = "token" if self.kind == HTTPS_TOKEN else "deploy key"
        return (
            f"The git host refused the credentials for {self.label}: check that the {what} is "
            "still valid and may read this repository."
        )


def ssh_fingerprint(key_base64: str) -> str:
    """The SHA256 fingerprint of an SSH public key, as ``ssh-keygen -l`` shows it."""
    digest = hashlib.sha256(base64.b64decode(key_base64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def host_key_lines(known_hosts: str) -> list[tuple[str, str, str]]:
    """``(host, key type, base64 key)`` of every usable line of a ``known_hosts`` text."""
    found = []
    for line in known_hosts.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith(("#", "@")):
            found.append((parts[0], parts[1], parts[2]))
    return found


def _private_file(path: Path, content: str, mode: int = 0o600) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)


def _origin(remote: Remote, source: str) -> str:
    """What git names the host in its prompts: ``scheme://host[:port]`` as the URL says."""
    scheme, _, rest = source.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].split('@')[-1]}"


_ASKPASS = """#!/bin/sh
# Answers git's two prompts for one host only; the secret is read from a file here.
here=$(dirname "$0")
case "$1" in
  "Username for '{origin}': ") exec cat "$here/username" ;;
  "Password for '{user_origin}': ") exec cat "$here/secret" ;;
esac
exit 1
"""


@dataclass(frozen=True, slots=True)
class PreparedAuth:
    """The environment git is given for the fetch, and where the host keys it saw are."""

    environment: dict[str, str]
    known_hosts: Path | None = None


@contextlib.contextmanager
def prepared(
    auth: GitAuth, *, remote: Remote, source: str, ssh_address: str | None, scratch: Path
) -> Iterator[PreparedAuth]:
    """The private files of ``auth`` for one fetch of ``source``, in a new directory under
    ``scratch`` removed on the way out whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix="auth-", dir=scratch))  # mode 0700
    try:
        if auth.kind == HTTPS_TOKEN:
            origin = _origin(remote, source)
            scheme, _, host = origin.partition("://")
            user_origin = f"{scheme}://{auth.username}@{host}"
            for value in (origin, user_origin):
                if "'" in value or '"' in value or "$" in value or "`" in value or "\\" in value:
                    raise ValueError("unexpected characters in the repository's host")
            _private_file(directory / "username", auth.username)
            _private_file(directory / "secret", auth.secret)
            script = directory / "askpass"
            _private_file(
                script, _ASKPASS.format(origin=origin, user_origin=user_origin), mode=0o700
            )
            yield PreparedAuth({"GIT_ASKPASS": str(script)})
            return
        key = directory / "key"
        _private_file(key, auth.secret if auth.secret.endswith("\n") else auth.secret + "\n")
        known_hosts = directory / "known_hosts"
        _private_file(known_hosts, auth.known_hosts)
        pinned = bool(host_key_lines(auth.known_hosts))
        options = [
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            f"StrictHostKeyChecking={'yes' if pinned else 'accept-new'}",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            f"HostKeyAlias={host_alias(remote)}",
            "-o",
            "CheckHostIP=no",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"IdentityFile={key}",
            "-o",
            "IdentityAgent=none",
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "KbdInteractiveAuthentication=no",
        ]
        if ssh_address is not None:
            options += ["-o", f"HostName={ssh_address}"]
        command = "ssh " + " ".join(shlex.quote(option) for option in options)
        yield PreparedAuth({"GIT_SSH_COMMAND": command}, known_hosts)
    finally:
        remove_tree(directory)


def host_alias(remote: Remote) -> str:
    """The name a host's key is pinned under: the host as the location names it (not the
    address it was resolved to), and its port when not 22."""
    return remote.host if remote.port == 22 else f"[{remote.host}]:{remote.port}"
