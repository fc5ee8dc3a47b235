"""Showing a scan: a live progress bar on a terminal, one stable line per event in CI logs,
and the summary at the end.

The plain format is an interface too (people grep CI logs for it): ``[ 42%] Detecting
secrets``, ``log: …``, ``findings: 3 so far``, ``completed: …``. Keep it stable.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text

from scanpulse.pipeline.config_summary import ConfigSummary
from scanpulse.pipeline.coverage import Coverage, gap_label

from .results import SEVERITIES, TERMINAL_KINDS, Gate, ScanResult, ScanUpdate

SUMMARY_FINDINGS_SHOWN = 50
# Why a pending scan waits, when the server recorded no reason of its own (as its step).
WAITING_FOR_WORKER = "Queued: waiting for a free worker"
SUMMARY_GAPS_SHOWN = 20
SUMMARY_CONFIG_RULES_SHOWN = 10
_SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


class Display(Protocol):
    def event(self, event: ScanUpdate) -> None: ...

    def note(self, text: str) -> None:
        """Something about the connection rather than the scan (resuming, polling)."""

    def pause(self) -> None:
        """Let the terminal be used for a question (Ctrl-C's "cancel the scan?")."""

    def resume(self) -> None: ...

    def close(self) -> None: ...


def waiting_reason(data: dict[str, Any]) -> str:
    """What a pending scan waits for: the server's words (the scan's step) when it has some."""
    return str(data.get("step") or "") or WAITING_FOR_WORKER


def describe(event: ScanUpdate, step: str) -> str:
    """One line for one event; ``step`` is the current step, for progress events."""
    data = event.data
    kind = event.kind
    if kind in ("step", "progress"):
        text = data.get("step", step) if kind == "step" else step
        return f"[{int(data.get('progress', 0)):>3}%] {text}".rstrip()
    if kind == "log":
        level = data.get("level", "info")
        prefix = "" if level == "info" else f"{level}: "
        return f"log: {prefix}{data.get('message', '')}"
    if kind == "status":
        details = []
        if data.get("ref"):
            details.append(f"ref {data['ref']}")
        if data.get("requested_by"):
            details.append(f"requested by {data['requested_by']}")
        if int(data.get("attempt", 1) or 1) > 1:
            details.append(f"attempt {data['attempt']}")
        suffix = f" ({', '.join(details)})" if details else ""
        return f"status: {data.get('status', '')}{suffix}"
    if kind == "findings":
        return f"findings: {data.get('findings_count', 0)} so far"
    if kind == "attempt":
        return f"attempt: {data.get('message') or data.get('attempt')}"
    if kind in TERMINAL_KINDS:
        return f"{kind}: {data.get('message', '')}".rstrip()
    if kind == "snapshot":
        now = waiting_reason(data) if data.get("status") == "pending" else data.get("step")
        return (
            f"snapshot: {data.get('status')} at {data.get('progress', 0)}% "
            f"({now or 'no step'}); earlier events are no longer available"
        )
    return f"{kind}: {json.dumps(data, sort_keys=True)}"


class PlainDisplay:
    """One line per event, flushed at once so CI logs show progress as it happens."""

    def __init__(self, stream: TextIO, notes: TextIO | None = None) -> None:
        self.stream = stream
        self.notes = notes or sys.stderr
        self.step = ""

    def event(self, event: ScanUpdate) -> None:
        if event.kind == "step" or event.kind == "snapshot":
            self.step = str(event.data.get("step", self.step))
        print(describe(event, self.step), file=self.stream, flush=True)
        if event.kind == "status":
            self.step = ""
            if event.data.get("status") == "pending":
                # A scan may wait long for a worker: say why, as the step it is at.
                self.step = waiting_reason(event.data)
                print(f"[  0%] {self.step}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.notes, flush=True)

    def pause(self) -> None:
        self.stream.flush()

    def resume(self) -> None:
        return None

    def close(self) -> None:
        self.stream.flush()


class QuietDisplay:
    """``--no-progress``: nothing while the scan runs."""

    def event(self, event: ScanUpdate) -> None:
        return None

    def note(self, text: str) -> None:
        return None

    def pause(self) -> None:
        return None

    def resume(self) -> None:
        return None

    def close(self) -> None:
        return None


def _timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time from the server, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class ScanElapsedColumn(ProgressColumn):
    """The scan's age as the server reports it: since it started (since it was requested,
    while it waits), not since this command attached to it; frozen when it ends."""

    def render(self, task: Task) -> Text:
        since = task.fields.get("since")
        if since is None:
            elapsed = task.elapsed  # no time from the server yet
        else:
            until = task.fields.get("until")
            elapsed = (time.time() if until is None else until) - since
        if elapsed is None:
            return Text("-:--:--", style="progress.elapsed")
        return Text(str(timedelta(seconds=max(0, int(elapsed)))), style="progress.elapsed")


class RichDisplay:
    """A progress bar with the current step, elapsed time and findings so far; log lines
    scroll above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            ScanElapsedColumn(),
            TextColumn("{task.fields[findings]} findings"),
            console=console,
        )
        self.task: TaskID = self.progress.add_task(
            "Waiting for the scan", total=100, findings=0, since=None, until=None
        )
        self.progress.start()
        self._closed = False
        self._started = False

    def _clock(self, event: ScanUpdate) -> None:
        """Take the scan's start (or, until it starts, its creation) from the server's times."""
        data = event.data
        stamp = _timestamp(event.time)
        task = self.progress.tasks[self.task]
        if event.kind == "snapshot" and _timestamp(data.get("started_at")) is not None:
            self._started = True
            self.progress.update(self.task, since=_timestamp(data.get("started_at")))
        elif stamp is None:
            pass
        elif event.kind == "status" and data.get("status") == "running" and not self._started:
            self._started = True  # the first attempt's start is the scan's start
            self.progress.update(self.task, since=stamp)
        elif task.fields.get("since") is None:
            self.progress.update(self.task, since=stamp)  # the first event: its creation
        if event.is_terminal:
            end = _timestamp(data.get("finished_at")) if event.kind == "snapshot" else stamp
            self.progress.update(self.task, until=end if end is not None else time.time())

    def event(self, event: ScanUpdate) -> None:
        data = event.data
        self._clock(event)
        if event.kind in ("step", "progress", "snapshot"):
            self.progress.update(self.task, completed=int(data.get("progress", 0)))
        if event.kind in ("step", "snapshot") and data.get("step"):
            self.progress.update(self.task, description=str(data["step"]))
        if event.kind in ("status", "snapshot") and data.get("status") == "pending":
            self.progress.update(self.task, description=waiting_reason(data))
        elif event.kind == "status":
            self.progress.update(self.task, description=str(data.get("status", "")).capitalize())
        if event.kind in ("findings", "snapshot") and "findings_count" in data:
            self.progress.update(self.task, findings=int(data["findings_count"]))
        if event.kind == "completed":
            self.progress.update(self.task, completed=100, description="Completed")
        elif event.kind in ("failed", "cancelled"):
            self.progress.update(self.task, description=event.kind.capitalize())
        if event.kind in ("log", "attempt", "failed", "cancelled", "snapshot"):
            style = "dim" if data.get("level", "info") == "info" else "yellow"
            if event.kind in ("failed", "cancelled"):
                style = "red"
            self.progress.console.print(Text(describe(event, ""), style=style))

    def note(self, text: str) -> None:
        self.progress.console.print(Text(text, style="dim italic"))

    def pause(self) -> None:
        self.progress.stop()

    def resume(self) -> None:
        if not self._closed:
            self.progress.start()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.progress.stop()


def make_display(*, json_output: bool, no_progress: bool) -> Display:
    """Progress goes to stdout, except with ``--json``: stdout then carries only the result."""
    if no_progress:
        return QuietDisplay()
    stream = sys.stderr if json_output else sys.stdout
    if stream.isatty():
        return RichDisplay(Console(file=stream))
    return PlainDisplay(stream)


# -- the summary ---------------------------------------------------------------------------


def _duration(scan: dict[str, Any]) -> str:
    try:
        started = datetime.fromisoformat(scan["started_at"])
        finished = datetime.fromisoformat(scan["finished_at"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f" in {(finished - started).total_seconds():.1f} s"


def _not_fixed(summary: object) -> str:
    """The previous scan's findings this one no longer reports and did not fix (a server's
    summary says; see ``pipeline.absence``), in words, or ""."""
    if not isinstance(summary, dict):
        return ""
    parts = []
    for key, words in (
        ("excluded", "excluded by the configuration"),
        ("not_checked", "not checked by this scan"),
        ("superseded", "grouped per package version"),
    ):
        count = summary.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            parts.append(f"{count} {words}")
    return ", ".join(parts)


def summary_lines(result: ScanResult, gate: Gate) -> list[tuple[str, str]]:
    """The summary as ``(text, style)`` lines; the text alone is the plain form."""
    scan = result.scan
    lines: list[tuple[str, str]] = []
    head = f"Scan {result.scan_id} of {scan.get('ref', '')}: {result.status}{_duration(scan)}"
    if result.status != "completed":
        message = scan.get("error_message") or ""
        lines.append((f"{head}. {message}".rstrip(), "bold red"))
        return lines
    lines.append((head, "bold"))
    counts = result.counts(gate)
    status = counts["status"]
    severity = ", ".join(f"{key} {counts['severity'][key]}" for key in SEVERITIES)
    dismissed = f"; {counts['dismissed']} dismissed" if counts["dismissed"] else ""
    lines.append(
        (
            f"Findings: {counts['findings']} ({status['new']} new, {status['unchanged']} "
            f"unchanged; {status['fixed']} fixed{dismissed}) — {severity}",
            "",
        )
    )
    in_pull_request = scan.get("new_in_pull_request")
    if isinstance(in_pull_request, int):
        base = scan.get("compared_with_ref") or scan.get("base_ref") or ""
        lines.append((f"{in_pull_request} new in this pull request (compared with {base})", "bold"))
    gone = _not_fixed(scan.get("summary"))
    if gone:
        lines.append((f"No longer reported, not fixed: {gone}.", "yellow"))
    shown = sorted(
        result.open_findings(),
        key=lambda f: (_rank(f.get("severity")), f.get("path", ""), f.get("start_line") or 0),
    )
    for finding in shown[:SUMMARY_FINDINGS_SHOWN]:
        location = f"{finding.get('path', '')}:{finding.get('start_line') or ''}".rstrip(":")
        message = " ".join(str(finding.get("message", "")).split())
        lines.append(
            (
                f"  {finding.get('severity', ''):<8} {finding.get('status', ''):<9} "
                f"{finding.get('tool', '')}/{finding.get('rule_id', '')}  {location}  {message}",
                _SEVERITY_STYLE.get(str(finding.get("severity")), ""),
            )
        )
    if len(shown) > SUMMARY_FINDINGS_SHOWN:
        lines.append(
            (f"  … and {len(shown) - SUMMARY_FINDINGS_SHOWN} more (see --json or --sarif)", "dim")
        )
    lines.extend(_config_lines(ConfigSummary.from_json((scan.get("summary") or {}).get("config"))))
    coverage = result.coverage
    if coverage.failed:
        lines.append((f"Analyzers that failed: {', '.join(coverage.failed)}", "yellow"))
    if not coverage.complete:
        lines.extend(_gap_lines(coverage))
    stored = result.stored_gate()
    if stored is not None and (stored.get("conditions") or not stored.get("passed")):
        reasons = "; ".join(str(reason) for reason in stored.get("reasons") or [])
        if stored.get("passed"):
            lines.append(("Gate (the project's quality gate): passing", "bold green"))
        else:
            text = f"Gate (the project's quality gate): failing: {reasons or 'see the scan'}"
            lines.append((text, "bold red"))
    elif stored is None and gate.fail_on is not None:
        matching = counts["gate"]["matching"]
        scope = "new findings" if gate.new_only else "findings"
        incomplete = not coverage.complete
        failing = bool(matching) or (incomplete and not gate.allow_incomplete)
        text = f"Gate: {matching} {scope} at or above {gate.fail_on}"
        if incomplete and gate.allow_incomplete:
            text += ", scan incomplete (allowed)"
        elif incomplete:
            text += ", scan incomplete"
        text += f": {'failing' if failing else 'passing'}"
        if incomplete and not gate.allow_incomplete and not matching:
            text += " (--allow-incomplete passes an incomplete scan)"
        lines.append((text, "bold red" if failing else "bold green"))
    return lines


def _config_lines(config: ConfigSummary) -> list[tuple[str, str]]:
    """Which configuration applied and what each of its rules removed."""
    if config.source == "none" and not config.rules:
        return []
    # No configuration of the repository's: what was removed, the server's analyzers removed
    # (Bandit's checks left to the rule pack).
    source = "the server's analyzer settings" if config.source == "none" else config.source
    text = f"Configuration: {source} — {config.removed} removed"
    if config.dismissed:
        text += f", {config.dismissed} dismissed"
    lines = [(text, "")]
    for rule in config.rules[:SUMMARY_CONFIG_RULES_SHOWN]:
        files = (
            f" ({rule.files} file{'s' if rule.files != 1 else ''} not analyzed)"
            if rule.files
            else ""
        )
        lines.append((f"  {rule.findings:>6}  {rule.rule}{files}", "dim"))
    if len(config.rules) > SUMMARY_CONFIG_RULES_SHOWN:
        hidden = len(config.rules) - SUMMARY_CONFIG_RULES_SHOWN
        lines.append((f"  … and {hidden} more rules (see --json)", "dim"))
    return lines


def _gap_lines(coverage: Coverage) -> list[tuple[str, str]]:
    """What the scan did not look at: a count line, then one line per gap (the first 20)."""
    lines = [(f"Incomplete: {coverage.describe() or 'see the scan summary'}", "bold yellow")]
    shown = coverage.file_gaps()[:SUMMARY_GAPS_SHOWN]
    for gap in shown:
        label = gap_label(gap.get("kind"))
        where = " ".join(str(part) for part in (gap.get("analyzer"), gap.get("path")) if part)
        reason = " ".join(str(gap.get("reason", "")).split())
        lines.append((f"  {label:<15} {where}: {reason}".replace(" : ", ": "), "yellow"))
    hidden = coverage.hidden(len(shown))
    if hidden > 0:
        lines.append((f"  … and {hidden} more (see --json or the scan's gaps)", "dim"))
    return lines


def _rank(severity: Any) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def print_summary(result: ScanResult, gate: Gate, *, json_output: bool) -> None:
    if json_output:
        json.dump(result.to_json(gate), sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return
    lines = summary_lines(result, gate)
    if sys.stdout.isatty():
        console = Console(file=sys.stdout)
        for text, style in lines:
            console.print(Text(text, style=style), soft_wrap=True)
        return
    for text, _style in lines:
        print(text)
    sys.stdout.flush()
