"""A scan's SARIF 2.1.0 report, built from the pipeline's output without the database,
streamed into gzip, watching the cancel flag as it goes."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator

from scanpulse.alerts.selectors import Suppression
from scanpulse.pipeline.run import AnalyzerOutcome, PipelineOutput, ScanCancelled
from scanpulse.pipeline.sarif import (
    ReportedFinding,
    StreamedSarifRun,
    automation_id_for,
    iter_sarif_chunks,
)

from .models import Scan
from .result_rows import SAVE_BATCH


def sarif_report(
    *,
    scan: Scan,
    output: PipelineOutput,
    is_cancelled: Callable[[], bool],
    dismissed: dict[str, Suppression] | None = None,
    notes: list[str] | None = None,
) -> tuple[bytes, int]:
    """The scan's SARIF report, gzip-compressed, and its uncompressed size (no database);
    findings of ``dismissed`` fingerprints carry their suppression; ``notes`` are added to the
    first run's notifications."""
    dismissed = dismissed or {}

    def findings(outcome: AnalyzerOutcome) -> Iterator[ReportedFinding]:
        # The report is built lazily from these, so the cancel flag is seen while it is.
        for index, reported in enumerate(
            zip(outcome.result.findings, outcome.fingerprints, outcome.occurrences, strict=True)
        ):
            if index % SAVE_BATCH == 0 and is_cancelled():
                raise ScanCancelled
            suppression = dismissed.get(reported[1])
            yield ReportedFinding(
                *reported, suppression=None if suppression is None else suppression.justification
            )

    runs = [
        StreamedSarifRun(
            tool=outcome.result.tool,
            tool_version=outcome.result.tool_version,
            rules=outcome.result.rules,
            findings=findings(outcome),
            started=outcome.started,
            finished=outcome.finished,
            succeeded=not outcome.failed,
            errors=outcome.result.errors,
            notes=[*outcome.result.notes, *(notes or [] if position == 0 else [])],
        )
        for position, outcome in enumerate(output.outcomes)
    ]
    buffer = io.BytesIO()
    size = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as compressed:
        for chunk in iter_sarif_chunks(
            runs,
            automation_id=automation_id_for(scan.project.name, str(scan.id)),
            repository_uri=scan.project.repo_url,
            commit_sha=output.commit_sha,
            ref=scan.ref,
        ):
            if is_cancelled():
                raise ScanCancelled
            data = chunk.encode("utf-8")
            size += len(data)
            compressed.write(data)
    return buffer.getvalue(), size
