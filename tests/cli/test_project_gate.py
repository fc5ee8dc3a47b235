"""The command line's outcome under the project's quality gate, from the scan the server
returns: which exit code, which summary line, and when the command's own flags decide."""

from __future__ import annotations

from typing import Any

from scanpulse.cli.display import summary_lines
from scanpulse.cli.results import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, Gate, ScanResult


def verdict(*failed: str, passing: tuple[str, ...] = ()) -> dict[str, Any]:
    conditions = [
        {"condition": name, "passed": False, "message": f"{name} failed"} for name in failed
    ] + [{"condition": name, "passed": True, "message": f"{name} met"} for name in passing]
    return {
        "passed": not failed,
        "reasons": [f"{name} failed" for name in failed],
        "conditions": conditions,
    }


def result(gate: dict[str, Any] | None, *, project_gate: bool = True) -> ScanResult:
    scan = {"id": "s", "ref": "main", "status": "completed", "summary": {}, "gate": gate}
    return ScanResult(scan=scan, project_gate=project_gate)


def test_the_exit_code_follows_the_stored_verdict() -> None:
    assert result(verdict()).exit_code(Gate()) == EXIT_OK
    assert result(verdict("no_secrets")).exit_code(Gate()) == EXIT_FINDINGS
    assert result(verdict("require_complete")).exit_code(Gate()) == EXIT_INCOMPLETE
    assert result(verdict("require_complete", "no_secrets")).exit_code(Gate()) == EXIT_FINDINGS


def test_the_summary_line_appears_when_the_policy_has_conditions() -> None:
    def last(shown: ScanResult) -> str:
        return summary_lines(shown, Gate())[-1][0]

    assert last(result(verdict("no_secrets"))) == (
        "Gate (the project's quality gate): failing: no_secrets failed"
    )
    assert last(result(verdict(passing=("no_secrets",)))) == (
        "Gate (the project's quality gate): passing"
    )
    assert not last(result(verdict())).startswith("Gate")  # the default policy: no line


def test_without_a_stored_verdict_or_with_flags_the_command_decides() -> None:
    # a server older than quality gates, or local mode, or --fail-on/--allow-incomplete given
    assert result(None).exit_code(Gate()) == EXIT_OK
    assert result(verdict("no_secrets"), project_gate=False).exit_code(Gate()) == EXIT_OK
    assert result(verdict("no_secrets"), project_gate=False).verdict(Gate()) is None
    assert result(verdict("no_secrets")).verdict(Gate())["source"] == "project"
