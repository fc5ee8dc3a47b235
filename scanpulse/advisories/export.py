"""Verifying and reading an OSV ecosystem export (``<ecosystem>/all.zip``) as downloaded.

A download is used only if it is whole: a readable zip archive within the size limits, every
member a JSON object with a string ``id`` and ``modified``, every member's CRC-32 right (checked
by ``zipfile`` as it reads). Anything else refuses the whole export, so a corrupt or truncated
download changes nothing. A member that is JSON but not a valid OSV record is reported and
skipped, as the directory loader does. No Django here.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .osv import (
    MAX_RECORD_BYTES,
    Advisory,
    OSVError,
    parse_record,
    record_digest,
    unorderable_events,
)
from .osv_files import ZIP_READ_ERRORS, printable


class ExportInvalid(ValueError):
    """The export cannot be used; ``str()`` says why, for the operator."""


@dataclass(slots=True)
class ExportContents:
    """``records``: every valid record's id and ``record_digest``; ``members``: the member
    each id was read from; ``errors``: records skipped, one line each."""

    records: dict[str, str] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _open(path: Path, max_uncompressed: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportInvalid(f"not a valid zip archive ({exc})") from None
    total = sum(info.file_size for info in archive.infolist())
    if total > max_uncompressed:
        archive.close()
        raise ExportInvalid(
            f"its records would take {total:,} bytes, more than the limit of {max_uncompressed:,}"
        )
    return archive


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, object]:
    name = printable(info.filename)
    if info.file_size > MAX_RECORD_BYTES:
        raise ExportInvalid(f"{name}: larger than {MAX_RECORD_BYTES // (1024 * 1024)} MiB")
    try:
        with archive.open(info) as member:
            content = member.read(MAX_RECORD_BYTES + 1)
    except ZIP_READ_ERRORS as exc:
        # zipfile raises BadZipFile("Bad CRC-32 …") for a damaged member.
        raise ExportInvalid(f"{name}: cannot be read ({exc})") from None
    if len(content) > MAX_RECORD_BYTES:
        raise ExportInvalid(f"{name}: larger than {MAX_RECORD_BYTES // (1024 * 1024)} MiB")
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ExportInvalid(f"{name}: not JSON ({' '.join(str(exc).split())})") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and data["id"].strip()
        and isinstance(data.get("modified"), str)
    ):
        raise ExportInvalid(f"{name}: not an OSV record (no id or modified)")
    return data


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        if not info.filename.lower().endswith(".json"):
            raise ExportInvalid(f"{printable(info.filename)}: not a JSON record")
        members.append(info)
    return members


def verify_export(
    path: Path,
    *,
    max_uncompressed: int,
    progress: Callable[[int, int], None] | None = None,
) -> ExportContents:
    """Check the whole export and digest every record; ``ExportInvalid`` if it cannot be used.

    ``progress(done, total)`` is called as members are read.
    """
    contents = ExportContents()
    with _open(path, max_uncompressed) as archive:
        members = _members(archive)
        if not members:
            raise ExportInvalid("it holds no records")
        for done, info in enumerate(members, start=1):
            data = _member(archive, info)
            source = f"{path.name}:{printable(info.filename)}"
            try:
                advisory = parse_record(data)
            except OSVError as exc:
                contents.errors.append(f"{source}: {exc}")
                continue
            contents.errors.extend(
                f"{source}: {problem}" for problem in unorderable_events(advisory)
            )
            contents.records[advisory.id] = record_digest(advisory)
            contents.members[advisory.id] = info.filename
            if progress is not None:
                progress(done, len(members))
    return contents


def read_export(path: Path, contents: ExportContents, ids: set[str]) -> Iterator[Advisory]:
    """The records ``ids`` of a verified export, in member order."""
    wanted = {contents.members[osv_id] for osv_id in ids if osv_id in contents.members}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename in wanted:
                advisory = parse_record(_member(archive, info))
                if advisory.id in ids:
                    yield advisory
