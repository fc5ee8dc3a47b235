"""What the client works with whichever way a scan ran: events, the final result, the gate,
and the exit codes that a CI job branches on."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanpulse.analyzers.base import SEVERITIES
from scanpulse.pipeline.coverage import Coverage, GatePolicy, gate_verdict

# Exit codes: part of the command's interface (documented in --help and docs/cli.md).
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_SCAN_FAILED = 3
EXIT_UNREACHABLE = 4
EXIT_INCOMPLETE = 5
EXIT_INTERRUPTED = 130

# The scan statuses that end a scan, and the kinds of the events that say so (as the server
# defines them in scanpulse.scans.models; the client speaks to servers without Django).
TERMINAL_KINDS = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class SbomOutput:
    """Where ``--sbom`` writes the scan's dependency inventory, and in which format
    (``cyclonedx`` or ``spdx``)."""

    path: Path
    kind: str


class CliError(Exception):
    """A problem the user can act on; ``str()`` is the message, ``exit_code`` the outcome."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class ScanUpdate:
    """What the command shows of a scan as it runs: one event of its log, as ``docs/api.md``
    describes it (``seq`` counts from 1).

    ``kind`` may also be ``snapshot``: the scan's state after its older events were purged
    (then ``data`` is the snapshot and ``seq`` its ``last_event_id``)."""

    seq: int
    kind: str
    data: dict[str, Any]
    time: str = ""  # when the server recorded it (ISO 8601, UTC); empty when unknown

    @property
    def is_terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS or (
            self.kind == "snapshot" and self.data.get("status") in TERMINAL_KINDS
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ScanUpdate:
        return cls(
            int(payload["seq"]),
            str(payload["kind"]),
            dict(payload.get("data") or {}),
            str(payload.get("time") or ""),
        )


# ``--fail-on``, ``--new-only`` and ``--allow-incomplete``: the same policy the API's gate applies.
Gate = GatePolicy


@dataclass(slots=True)
class ScanResult:
    """The scan as the API returns it (``GET /api/scans/{id}/``) and all of its findings."""

    scan: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    # Whether the project's quality gate (the server's stored verdict) decides the outcome:
    # remote mode without --fail-on or --allow-incomplete.
    project_gate: bool = False

    @property
    def status(self) -> str:
        return str(self.scan.get("status", ""))

    @property
    def scan_id(self) -> str:
        return str(self.scan.get("id", ""))

    @property
    def coverage(self) -> Coverage:
        """What the completed scan did not look at (see ``pipeline.coverage``)."""
        return Coverage.from_summary(self.scan.get("summary"))

    def open_findings(self) -> list[dict[str, Any]]:
        """Findings present in this scan (``fixed`` ones are the ones that disappeared) and
        not dismissed by the project."""
        return [
            finding
            for finding in self.findings
            if finding.get("status") != "fixed" and not finding.get("dismissed_reason")
        ]

    def dismissed_findings(self) -> list[dict[str, Any]]:
        """Findings present in this scan whose fingerprint the project had dismissed."""
        return [
            finding
            for finding in self.findings
            if finding.get("status") != "fixed" and finding.get("dismissed_reason")
        ]

    def counts(self, gate: Gate) -> dict[str, Any]:
        open_findings = self.open_findings()
        by_severity = Counter(finding.get("severity") for finding in open_findings)
        by_status = Counter(
            finding.get("status")
            for finding in self.findings
            if finding.get("status") == "fixed" or not finding.get("dismissed_reason")
        )
        return {
            "findings": len(open_findings),
            "dismissed": len(self.dismissed_findings()),
            "severity": {key: by_severity.get(key, 0) for key in SEVERITIES},
            "status": {key: by_status.get(key, 0) for key in ("new", "unchanged", "fixed")},
            "gate": {
                "fail_on": gate.fail_on,
                "new_only": gate.new_only,
                "matching": sum(1 for finding in self.findings if gate.counts(finding)),
            },
        }

    def stored_gate(self) -> dict[str, Any] | None:
        """The verdict of the project's quality gate, when it decides (``project_gate``) and
        the server stored one (a server older than quality gates has none)."""
        stored = self.scan.get("gate") if self.project_gate else None
        return stored if isinstance(stored, dict) else None

    def verdict(self, gate: Gate) -> dict[str, Any] | None:
        """The gate's verdict, as ``GET /api/scans/{id}/gate`` gives it: the project's quality
        gate's when it decides; else None without ``--fail-on`` (the command then gates on
        nothing but the scan completing)."""
        stored = self.stored_gate()
        if stored is not None:
            return {"source": "project", **stored}
        if gate.fail_on is None:
            return None
        matching = sum(1 for finding in self.findings if gate.counts(finding))
        verdict = gate_verdict(gate, status=self.status, coverage=self.coverage, matching=matching)
        return {"allow_incomplete": gate.allow_incomplete, **verdict.to_dict()}

    def exit_code(self, gate: Gate) -> int:
        if self.status != "completed":
            return EXIT_SCAN_FAILED
        stored = self.stored_gate()
        if stored is not None:
            if stored.get("passed"):
                return EXIT_OK
            failed = {
                str(condition.get("condition"))
                for condition in stored.get("conditions") or []
                if isinstance(condition, dict) and not condition.get("passed")
            }
            return EXIT_INCOMPLETE if failed == {"require_complete"} else EXIT_FINDINGS
        if any(gate.counts(finding) for finding in self.findings):
            return EXIT_FINDINGS
        if gate.fail_on is not None and not gate.allow_incomplete and not self.coverage.complete:
            return EXIT_INCOMPLETE
        return EXIT_OK

    def to_json(self, gate: Gate) -> dict[str, Any]:
        return {
            "scan": self.scan,
            "findings": self.findings,
            "counts": self.counts(gate),
            "gate": self.verdict(gate),
            "exit_code": self.exit_code(gate),
        }


def write_report(path: Path, chunks: Iterable[bytes]) -> None:
    """Write a file whole or not at all: a CI step that uploads it must never see half."""
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(descriptor, "wb") as output:
            for chunk in chunks:
                output.write(chunk)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # what a plain open() would have created
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise CliError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
