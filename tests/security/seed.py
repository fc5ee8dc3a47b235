"""Data for the security tests, written straight to the test database: projects on real git
repositories, completed scans with findings, events and a SARIF report made by the real writer."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanpulse.analyzers.base import AnalyzerFinding, Rule
from scanpulse.pipeline.fingerprints import assign_fingerprints, occurrence_indexes
from scanpulse.pipeline.sarif import (
    ReportedFinding,
    StreamedSarifRun,
    automation_id_for,
    iter_sarif_chunks,
)
from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event
from scanpulse.scans.models import Finding, Scan, ScanReport
from scanpulse.scans.services import scan_finish
from tests.support.repos import make_repo

RULE = Rule(id="SEC001", name="SeededRule", short_description="A seeded finding")


def project(tenant: Any, root: Path, name: str = "web") -> Project:
    repo = make_repo(root / f"repo-{name}", {"app.py": "print('hello')\n"})
    return Project.objects.create(organization=tenant.org, name=name, repo_url=str(repo))


def _findings(count: int, message_chars: int, tool: str) -> list[AnalyzerFinding]:
    padding = "x" * max(0, message_chars - 40)
    return [
        AnalyzerFinding(
            rule_id=RULE.id,
            severity=("high", "medium", "low")[index % 3],  # type: ignore[arg-type]
            confidence="high",
            path=f"src/module_{index // 50:04}.py",
            start_line=index % 50 + 1,
            end_line=index % 50 + 1,
            message=f"{tool} finding number {index} {padding}",
            snippet=f"call_{index}()",
        )
        for index in range(count)
    ]


def completed_scan(
    project: Project,
    *,
    findings: int = 3,
    message_chars: int = 60,
    tools: tuple[str, ...] = ("seeded",),
) -> Scan:
    """A completed scan with ``findings`` findings per tool, a few events and its SARIF report
    (written by ``scanpulse.pipeline.sarif`` exactly as a scan writes it, gzip-compressed)."""
    scan = Scan.objects.create(
        project=project, organization=project.organization, ref="main", status="running"
    )
    append_event(scan_id=scan.id, kind="log", data={"level": "info", "message": "seeded"})
    runs = []
    rows = []
    now = datetime.now(UTC)
    for tool in tools:
        produced = _findings(findings, message_chars, tool)
        fingerprints = assign_fingerprints(tool, produced)
        indexes = occurrence_indexes(produced)
        runs.append(
            StreamedSarifRun(
                tool=tool,
                tool_version="1",
                rules=[RULE],
                findings=[
                    ReportedFinding(finding, fingerprint, index)
                    for finding, fingerprint, index in zip(
                        produced, fingerprints, indexes, strict=True
                    )
                ],
                started=now,
                finished=now,
                succeeded=True,
            )
        )
        rows.extend(
            Finding(
                scan=scan,
                tool=tool,
                rule_id=finding.rule_id,
                severity=finding.severity,
                confidence=finding.confidence,
                path=finding.path,
                start_line=finding.start_line,
                end_line=finding.end_line,
                message=finding.message,
                fingerprint=fingerprint,
                status="new",
                position=len(rows) + position,
            )
            for position, (finding, fingerprint) in enumerate(
                zip(produced, fingerprints, strict=True)
            )
        )
    Finding.objects.bulk_create(rows, batch_size=2000)
    buffer = io.BytesIO()
    size = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        for chunk in iter_sarif_chunks(
            runs,
            automation_id=automation_id_for(project.name, str(scan.id)),
            repository_uri=None,
            commit_sha="0" * 40,
            ref="main",
        ):
            data = chunk.encode("ascii")
            size += len(data)
            compressed.write(data)
    ScanReport.objects.create(scan=scan, sarif_gzip=buffer.getvalue(), size=size)
    scan_finish(scan_id=scan.id, status="completed", message="done", findings_count=len(rows))
    scan.refresh_from_db()
    return scan
