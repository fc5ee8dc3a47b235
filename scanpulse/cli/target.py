"""What ``scanpulse scan PATH|URL`` points at: a repository location, a ref and a project name.

A local path is scanned the way a server scans it — the pipeline clones the ref — so the
default ref is the work tree's current branch and uncommitted changes are not part of it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scanpulse.projects.validation import validate_ref

from .results import CliError

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")
# The remote's default branch: what `git clone` checks out, and a name every server accepts.
REMOTE_DEFAULT_REF = "HEAD"


@dataclass(frozen=True, slots=True)
class Target:
    location: str  # the project's repo_url: an absolute path or a URL
    is_local: bool
    ref: str | None  # None: the project's default branch (remote projects that exist)
    name: str  # for a project that has to be created
    uncommitted_changes: bool = False
    # With a server: the branch to compare with (a pull request's target, ``--base``).
    base_ref: str | None = None


def resolve_target(value: str, ref: str | None) -> Target:
    if ref is not None:
        try:
            validate_ref(ref)
        except ValueError as exc:
            raise CliError(f"--ref {ref!r}: {exc}") from exc
    if not value or value != value.strip():
        raise CliError("Give a local path or a repository URL (without surrounding spaces).")
    if value.startswith("-"):
        raise CliError("A repository location must not start with '-'.")
    if value.startswith("file://"):
        value = unquote(urlsplit(value).path)
    elif "://" in value or _SCP_LIKE.match(value):
        return Target(location=value, is_local=False, ref=ref, name=_name_from_url(value))
    return _local_target(Path(value).expanduser(), ref)


def _local_target(path: Path, ref: str | None) -> Target:
    path = path.resolve()
    toplevel = _git(path, "rev-parse", "--show-toplevel")
    # A subdirectory of a work tree cannot be cloned; its repository can.
    location = Path(toplevel) if toplevel else path
    dirty = bool(toplevel) and bool(_git(location, "status", "--porcelain"))
    if ref is None and toplevel:
        ref = _git(location, "symbolic-ref", "--quiet", "--short", "HEAD") or _git(
            location, "rev-parse", "--verify", "--quiet", "HEAD"
        )
    return Target(
        location=str(location),
        is_local=True,
        ref=ref or REMOTE_DEFAULT_REF,
        name=location.name or "repository",
        uncommitted_changes=dirty,
    )


def _git(cwd: Path, *args: str) -> str:
    """Ask git about a work tree; empty when it is none (or git is missing)."""
    if not cwd.is_dir():
        return ""
    try:
        result = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _name_from_url(url: str) -> str:
    path = urlsplit(url).path if "://" in url else url.split(":", 1)[1]
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.removesuffix(".git") or "repository"
