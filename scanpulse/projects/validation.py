"""Validation of repository locations and git ref names.

A repository location ends up as an argument to ``git clone``; anything that could be read as
an option or select a command-running transport is refused here, and git is additionally
restricted to safe protocols when it runs (see ``scanpulse.pipeline.source``).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_TRANSPORT_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class RepoLocationError(ValueError):
    """The location is not acceptable; the message is safe to show (never echoes secrets)."""


def classify_repo_location(value: str) -> str:
    """Return the transport of a valid location (``https``, ``ssh``, ``file``, ``local``).

    Raises ``RepoLocationError`` with a user-facing message otherwise.
    """
    if not value or not value.strip():
        raise RepoLocationError("A repository URL or local path is required.")
    if value != value.strip():
        raise RepoLocationError("Remove leading or trailing spaces.")
    if _CONTROL.search(value):
        raise RepoLocationError("Control characters are not allowed.")
    if value.startswith("-"):
        raise RepoLocationError("A repository location must not start with '-'.")
    if _TRANSPORT_PREFIX.match(value):
        raise RepoLocationError("Command transports such as 'ext::' and 'fd::' are not allowed.")

    allowed = {scheme.lower() for scheme in settings.SCANPULSE_REPO_SCHEMES}
    if value.startswith("/") or value.startswith("file:"):
        if not settings.SCANPULSE_ALLOW_LOCAL_REPOS:
            raise RepoLocationError("Local repositories are disabled on this server.")
        path = Path(urlsplit(value).path if value.startswith("file:") else value)
        if not path.is_absolute():
            raise RepoLocationError("A local repository path must be absolute.")
        if not path.is_dir():
            raise RepoLocationError("No directory exists at that local path.")
        return "file" if value.startswith("file:") else "local"

    scp = _SCP_LIKE.match(value)
    if scp and "://" not in value:
        if "ssh" not in allowed:
            raise RepoLocationError("SSH repositories are disabled on this server.")
        if scp.group("host").startswith("-"):
            raise RepoLocationError("Invalid SSH host.")
        return "ssh"

    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise RepoLocationError("This is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        raise RepoLocationError(
            "Use an https:// or ssh:// URL, user@host:path, or an absolute local path."
        )
    if scheme not in allowed:
        raise RepoLocationError(
            f"The '{scheme}' scheme is not allowed; use one of: {', '.join(sorted(allowed))}."
        )
    if parts.password is not None or (scheme != "ssh" and parts.username is not None):
        raise RepoLocationError(
            "Credentials must not be embedded in the URL; configure them on the workers."
        )
    if parts.hostname.startswith("-") or (port is not None and not 0 < port < 65536):
        raise RepoLocationError("Invalid host or port.")
    return scheme


def validate_ref(value: str) -> str:
    """Accept a branch, tag or commit name the way ``git check-ref-format`` would."""
    if not value:
        raise ValueError("A ref is required.")
    if len(value) > 255:
        raise ValueError("At most 255 characters.")
    if value.startswith("-"):
        raise ValueError("A ref must not start with '-'.")
    if (
        _REF_FORBIDDEN.search(value)
        or ".." in value
        or "@{" in value
        or "//" in value
        or value.startswith("/")
        or value.endswith((".", "/", ".lock"))
        or value == "@"
        or any(part.startswith(".") for part in value.split("/"))
    ):
        raise ValueError("Not a valid git branch, tag or commit name.")
    return value
