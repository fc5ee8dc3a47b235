"""The SARIF document, streamed in chunks of compact ASCII JSON: one run per analyzer run,
results most severe first, kept under GitHub's gzip-compressed upload size as it goes.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from .fitting import by_severity, prepare_run, runs_left_out_notes
from .model import (
    GITHUB_LIMITS,
    SARIF_SCHEMA_URI,
    SARIF_VERSION,
    GitHubLimits,
    SarifRun,
    StreamedSarifRun,
    TextSink,
)
from .objects import (
    dumps,
    invocations,
    notification,
    result_object,
    run_head,
    version_control_provenance,
)


def iter_sarif_chunks(
    runs: Sequence[SarifRun | StreamedSarifRun],
    *,
    automation_id: str,
    repository_uri: str | None,
    commit_sha: str | None,
    ref: str | None,
    limits: GitHubLimits = GITHUB_LIMITS,
    chunk_chars: int = 64 * 1024,
) -> Iterator[str]:
    """The SARIF document as compact, ASCII-only JSON text, in chunks of about ``chunk_chars``.

    One SARIF run per analyzer run, results most severe first. Whatever exceeds ``limits`` is
    left out, most severe results kept, and a warning notification in the run's invocation
    says what was dropped.
    """
    provenance = version_control_provenance(repository_uri, commit_sha, ref)
    pending: list[str] = []
    pending_chars = 0
    for piece in _iter_pieces(runs, automation_id, provenance, limits):
        pending.append(piece)
        pending_chars += len(piece)
        if pending_chars >= chunk_chars:
            yield "".join(pending)
            pending.clear()
            pending_chars = 0
    if pending:
        yield "".join(pending)


def build_sarif(
    runs: Sequence[SarifRun | StreamedSarifRun],
    *,
    automation_id: str,
    repository_uri: str | None,
    commit_sha: str | None,
    ref: str | None,
    limits: GitHubLimits = GITHUB_LIMITS,
) -> dict[str, Any]:
    """The SARIF document as a dict; the same content :func:`iter_sarif_chunks` streams."""
    text = "".join(
        iter_sarif_chunks(
            runs,
            automation_id=automation_id,
            repository_uri=repository_uri,
            commit_sha=commit_sha,
            ref=ref,
            limits=limits,
        )
    )
    document: dict[str, Any] = json.loads(text)
    return document


def write_sarif(
    fp: TextSink,
    runs: Sequence[SarifRun | StreamedSarifRun],
    *,
    automation_id: str,
    repository_uri: str | None,
    commit_sha: str | None,
    ref: str | None,
    limits: GitHubLimits = GITHUB_LIMITS,
) -> None:
    """Write the SARIF document to a text file object, chunk by chunk."""
    for chunk in iter_sarif_chunks(
        runs,
        automation_id=automation_id,
        repository_uri=repository_uri,
        commit_sha=commit_sha,
        ref=ref,
        limits=limits,
    ):
        fp.write(chunk)


# Room, in compressed bytes, for the warning that says results were dropped for size.
_SIZE_NOTE_RESERVE = 512
# Meter flushes at least this often so its estimate never runs far ahead of the real size.
_METER_FLUSH_BYTES = 256 * 1024
# Text handed to the meter's compressor at once.
_METER_BATCH_CHARS = 16 * 1024


class _GzipMeter:
    """How large the text emitted so far is once gzipped, as GitHub's uploader does it."""

    def __init__(self) -> None:
        # Level 6 is zlib's default, which upload-sarif's ``zlib.gzipSync`` uses; wbits 31 = gzip.
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._compressed = 0
        self._unflushed = 0  # input bytes whose compressed size is not known yet
        self._pending: list[str] = []  # input not handed to zlib yet
        self._pending_chars = 0

    def add(self, text: str) -> None:
        # Handed to zlib a batch at a time (one call per result costs more than compressing
        # it); zlib's output does not depend on how its input is split, so sizes are the same.
        self._pending.append(text)
        self._pending_chars += len(text)
        self._unflushed += len(text)  # ASCII: one byte per character
        if self._pending_chars >= _METER_BATCH_CHARS:
            self._compress_pending()
        if self._unflushed >= _METER_FLUSH_BYTES:
            self._flush()

    def _compress_pending(self) -> None:
        if self._pending:
            data = "".join(self._pending).encode("ascii")
            self._compressed += len(self._compressor.compress(data))
            self._pending.clear()
            self._pending_chars = 0

    def size(self) -> int:
        self._flush()
        return self._compressed

    def fits(self, more: int, end: int) -> bool:
        """Whether ``more`` further bytes surely keep the compressed size within ``end``."""
        if self._compressed + self._unflushed + more <= end:
            return True
        return self.size() + more <= end

    def _flush(self) -> None:
        self._compress_pending()
        if self._unflushed:
            self._compressed += len(self._compressor.flush(zlib.Z_SYNC_FLUSH))
            self._unflushed = 0


def _iter_pieces(
    runs: Sequence[SarifRun | StreamedSarifRun],
    automation_id: str,
    provenance: list[dict[str, Any]] | None,
    limits: GitHubLimits,
) -> Iterator[str]:
    meter = _GzipMeter()

    def emit(piece: str) -> str:
        meter.add(piece)
        return piece

    kept_runs = runs[: limits.runs_per_file]
    left_out_runs = runs[limits.runs_per_file :]
    # Headroom for what the meter cannot know exactly: the closing brackets, the gzip trailer
    # and how a one-pass compression by the uploader differs from our flushed measurement.
    safety = limits.gzip_bytes // 100

    yield emit(
        '{"$schema":' + dumps(SARIF_SCHEMA_URI) + ',"version":' + dumps(SARIF_VERSION) + ',"runs":['
    )
    for position, run in enumerate(kept_runs):
        streamed = run.as_streamed() if isinstance(run, SarifRun) else run
        extra = runs_left_out_notes(left_out_runs, limits) if position == 0 else []
        prepared = prepare_run(streamed, limits, extra)

        # Each run may use an equal share of what is left, so a noisy first analyzer cannot
        # crowd out the critical findings of the ones after it.
        start = meter.size()
        share = (limits.gzip_bytes - safety - start) // (len(kept_runs) - position)
        tail = invocations(streamed, prepared.notifications)
        tail_estimate = len(zlib.compress(dumps(tail).encode("ascii")))
        results_end = start + share - tail_estimate - _SIZE_NOTE_RESERVE

        if position:
            yield emit(",")
        yield emit(run_head(prepared, automation_id, provenance, limits))
        emitted = 0
        for item in prepared.results:
            piece = ("," if emitted else "") + dumps(result_object(item, prepared))
            if not meter.fits(len(piece), results_end):
                break
            yield emit(piece)
            emitted += 1
        if emitted < len(prepared.results):
            dropped: Counter[str] = Counter(
                item.finding.severity for item in prepared.results[emitted:]
            )
            tail = invocations(
                streamed,
                [
                    *prepared.notifications,
                    notification(
                        "warning",
                        f"Left out {dropped.total():,} results ({by_severity(dropped)}) to keep"
                        " the gzip-compressed report under GitHub code scanning's"
                        f" {limits.gzip_bytes:,}-byte upload limit; the most severe results"
                        " were kept.",
                    ),
                ],
            )
        yield emit('],"invocations":' + dumps(tail) + "}")
    yield emit("]}")
