"""Loading OSV records in bulk: a directory tree (e.g. the PyPA advisory-database), an OSV
``all.zip`` export or one file. Tolerant: a bad record is reported and the load goes on."""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from scanpulse.advisories.osv import (
    MAX_RECORD_BYTES,
    RECORD_SUFFIXES,
    Advisory,
    OSVError,
    parse_document,
    unorderable_events,
)

# What reading one member of an OSV zip export can raise: an encrypted member (RuntimeError),
# an unknown compression (NotImplementedError), a damaged archive.
ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    zlib.error,
)


def printable(name: str) -> str:
    # Archive member names are untrusted data; keep control characters out of messages.
    return name if name.isprintable() else ascii(name)


def iter_records(path: Path | str, errors: list[str]) -> Iterator[Advisory]:
    """Yield every record under ``path``: a directory tree, an OSV ``all.zip`` or one file.

    Problems are appended to ``errors`` as ``"<file>: <what is wrong>"`` and the load goes on.
    Directory entries starting with ``.`` (``.git``) are skipped. Zip members are only read into
    memory, never extracted, so member names like ``../../x.json`` are harmless.
    """
    root = Path(path)
    if root.is_dir():
        yield from _iter_directory(root, errors)
    elif root.is_file() and zipfile.is_zipfile(root):
        yield from _iter_zip(root, errors)
    elif root.is_file() and root.name.lower().endswith(RECORD_SUFFIXES):
        advisory = _load_file(root, errors)
        if advisory is not None:
            yield advisory
    elif root.exists():
        errors.append(f"{root}: not a directory, zip archive or OSV record file")
    else:
        errors.append(f"{root}: no such file or directory")


def _iter_directory(root: Path, errors: list[str]) -> Iterator[Advisory]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith(".") or not filename.lower().endswith(RECORD_SUFFIXES):
                continue
            advisory = _load_file(Path(dirpath, filename), errors)
            if advisory is not None:
                yield advisory


def _load_file(file: Path, errors: list[str]) -> Advisory | None:
    source = printable(str(file))
    try:
        with file.open("rb") as handle:
            content = handle.read(MAX_RECORD_BYTES + 1)
    except OSError as exc:
        errors.append(f"{source}: cannot read: {exc.strerror or exc}")
        return None
    return _parse_content(content, file.name, source, errors)


def _parse_content(
    content: bytes, filename: str, source: str, errors: list[str]
) -> Advisory | None:
    if len(content) > MAX_RECORD_BYTES:
        errors.append(f"{source}: larger than {MAX_RECORD_BYTES // (1024 * 1024)} MiB, skipped")
        return None
    try:
        advisory = parse_document(content, filename)
    except OSVError as exc:
        errors.append(f"{source}: {exc}")
        return None
    errors.extend(f"{source}: {problem}" for problem in unorderable_events(advisory))
    return advisory


def _iter_zip(archive_path: Path, errors: list[str]) -> Iterator[Advisory]:
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as exc:
        errors.append(f"{archive_path}: not a readable zip archive: {exc}")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith(RECORD_SUFFIXES):
                continue
            source = f"{archive_path.name}:{printable(info.filename)}"
            try:
                with archive.open(info) as member:
                    content = member.read(MAX_RECORD_BYTES + 1)
            except ZIP_READ_ERRORS as exc:
                errors.append(f"{source}: cannot read zip member: {exc}")
                continue
            advisory = _parse_content(content, info.filename, source, errors)
            if advisory is not None:
                yield advisory
