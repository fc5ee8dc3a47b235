"""Where a SARIF result points, as a path inside the repository: relative references, ``file:``
URIs and absolute paths under the upload's root or the run's ``originalUriBaseIds``. A path that
leaves the repository is refused (``ValueError``)."""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from scanpulse.analyzers.sarif_import.text import plain

MAX_PATH = 1024

_DRIVE = re.compile(r"^[A-Za-z]:[/\\]")


def base_directories(run_data: dict[str, Any], root: str) -> list[str]:
    """Absolute directories that absolute paths may be made relative to: the upload's
    ``root`` and the run's absolute ``originalUriBaseIds``; deepest first."""
    bases = []
    if root:
        bases.append(root)
    for base in (run_data.get("originalUriBaseIds") or {}).values():
        uri = base.get("uri") if isinstance(base, dict) else None
        if isinstance(uri, str):
            try:
                path = file_path(uri)
            except ValueError:  # not a URI at all ("http://["): no base
                continue
            if path is not None and path.startswith("/"):
                bases.append(path)
    normalized = {posixpath.normpath(base.replace("\\", "/")) for base in bases}
    return sorted(normalized, key=len, reverse=True)


def file_path(uri: str) -> str | None:
    """The path of a relative reference or a ``file:`` URI, decoded; None for another scheme."""
    parts = urlsplit(uri)
    if _DRIVE.match(uri):
        return uri
    if parts.scheme and parts.scheme != "file":
        return None
    return unquote(parts.path)


def result_location(
    run_data: dict[str, Any], sarif_result: dict[str, Any], bases: list[str]
) -> tuple[str, int | None, int | None, str]:
    """(path, start line, end line, snippet) of the result's first location; ("", None,
    None, "") when it has none. Raises ValueError for a path outside the repository."""
    locations = sarif_result.get("locations") or []
    physical = (locations[0].get("physicalLocation") if locations else None) or {}
    artifact = physical.get("artifactLocation") or {}
    uri = artifact.get("uri")
    index = artifact.get("index")
    artifacts = run_data.get("artifacts") or []
    if not isinstance(uri, str) and isinstance(index, int) and 0 <= index < len(artifacts):
        uri = (artifacts[index].get("location") or {}).get("uri")
    region = physical.get("region") or {}
    start = region.get("startLine")
    start = start if isinstance(start, int) and start > 0 else None
    end = region.get("endLine")
    end = end if isinstance(end, int) and start is not None and end >= start else start
    snippet = (region.get("snippet") or {}).get("text") or ""
    if not isinstance(uri, str) or not uri:
        return "", None, None, snippet if isinstance(snippet, str) else ""
    return repository_path(uri, bases), start, end, snippet if isinstance(snippet, str) else ""


def repository_path(uri: str, bases: list[str]) -> str:
    shown = plain(uri, 200)
    try:
        path = file_path(uri)
    except ValueError:
        raise ValueError(f"{shown!r} is not a valid URI") from None
    if path is None:
        raise ValueError(f"{shown!r} is not a file path")
    if "\x00" in path:
        raise ValueError(f"{shown!r} holds a NUL character")
    path = path.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        normalized = posixpath.normpath(path)
        for base in bases:
            if normalized.startswith(base.rstrip("/") + "/"):
                path = normalized[len(base.rstrip("/")) + 1 :]
                break
        else:
            raise ValueError(f"{shown!r} is an absolute path")
    relative = posixpath.normpath(path)
    if relative == ".." or relative.startswith("../") or relative.startswith("/"):
        raise ValueError(f"{shown!r} leaves the repository")
    if relative == ".":
        raise ValueError(f"{shown!r} names no file")
    if len(relative) > MAX_PATH:
        raise ValueError(f"{shown!r} is longer than {MAX_PATH} characters")
    return plain(relative, MAX_PATH)
