"""Validation of repository locations and git ref names.

A repository location ends up as an argument to ``git clone``; anything that could be read as
an option or select a command-running transport is refused here, and git is additionally
restricted to safe protocols when it runs (see ``scanpulse.pipeline.source``). Hosts must not
be internal addresses, and local paths must lie where the organization may scan
(``scanpulse.pipeline.locations``); the worker checks both again before it fetches.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

import scanpulse
from scanpulse.pipeline.locations import (
    LocalPolicy,
    LocationRefused,
    NetworkPolicy,
    local_path_of,
    remote_of,
)

_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_TRANSPORT_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


CREDENTIALS_IN_URL = (
    "Credentials must not be embedded in the URL, neither before the host nor in a query "
    "string or fragment; add them to the project under Credentials & access instead."
)


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
        # Where it may lie, and whether it exists, depends on the organization (and must not
        # be answered for paths it may not use): ``check_local_location``.
        return "file" if value.startswith("file:") else "local"

    scp = _SCP_LIKE.match(value)
    if scp and "://" not in value:
        if "ssh" not in allowed:
            raise RepoLocationError("SSH repositories are disabled on this server.")
        if scp.group("host").startswith("-"):
            raise RepoLocationError("Invalid SSH host.")
        _check_host(value)
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
    if (
        parts.password is not None
        or (scheme != "ssh" and parts.username is not None)
        or "?" in value
        or "#" in value
    ):
        # A token in the query string (``?access_token=…``) is a credential like any other.
        raise RepoLocationError(CREDENTIALS_IN_URL)
    if parts.hostname.startswith("-") or (port is not None and not 0 < port < 65536):
        raise RepoLocationError("Invalid host or port.")
    _check_host(value)
    return scheme


def network_policy() -> NetworkPolicy:
    return NetworkPolicy.parse(settings.SCANPULSE_GIT_ALLOWED_NETWORKS)


def _check_host(value: str) -> None:
    """Refuse hosts that are, or resolve to, internal addresses. A name that does not resolve
    here passes: the workers may see other DNS, and they check again before fetching."""
    try:
        remote = remote_of(value)
        if remote is not None:
            network_policy().check(remote, unresolved_ok=True)
    except LocationRefused as exc:
        raise RepoLocationError(str(exc)) from None


def installation_dirs() -> list[Path]:
    """Where this server's code lives: the package, its environment, and the source checkout
    it runs from (settings, deployment files), if any."""
    package = Path(scanpulse.__file__).resolve().parent
    found = [package, Path(sys.prefix)]
    if (package.parent / "pyproject.toml").is_file():
        found.append(package.parent)
    return found


def local_policy(*, organization: Any) -> LocalPolicy:
    """Where ``organization`` may have local repositories (``SCANPULSE_LOCAL_REPO_ROOTS``).

    Other organizations' roots are refused even when a shared root contains them; the data
    directory (but for roots inside it), the work directory, and the installation are refused
    unless ``SCANPULSE_PROTECT_SERVER_DIRS`` is off.
    """
    from scanpulse.tenancy.models import Organization

    templates = list(settings.SCANPULSE_LOCAL_REPO_ROOTS)
    roots = [template.replace("{org}", str(organization.pk)) for template in templates]
    protected: list[str | Path] = []
    data_dir = None
    if settings.SCANPULSE_PROTECT_SERVER_DIRS:
        protected += [Path(settings.SCANPULSE_WORK_DIR), *installation_dirs()]
        data_dir = Path(settings.DATA_DIR)
    own = [template for template in templates if "{org}" in template]
    if own:
        others = Organization.objects.exclude(pk=organization.pk).values_list("pk", flat=True)
        protected += [template.replace("{org}", str(pk)) for template in own for pk in others]
    return LocalPolicy.build(roots, protected, data_dir)


def check_local_location(value: str, *, organization: Any, must_exist: bool = True) -> None:
    """A local location must lie where ``organization`` may scan, and be a directory. Whether
    it exists is only told once it is known to lie there."""
    path = local_path_of(value)
    if path is None:
        return
    try:
        real = local_policy(organization=organization).check(path)
    except LocationRefused as exc:
        raise RepoLocationError(str(exc)) from None
    if must_exist and not real.is_dir():
        raise RepoLocationError("No directory exists at that local path.")


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
