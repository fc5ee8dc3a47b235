"""Analyzers for tests: they take a known time and report known findings, so live progress
can be watched and interrupted deterministically. Loaded through SCANPULSE_ANALYZER_PATHS."""

from __future__ import annotations

import json
import time
from pathlib import Path

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
)

RULE = Rule(id="PACED001", name="PacedLine", short_description="A line a paced analyzer flags")


class PacedAnalyzer(Analyzer):
    """Looks at every file for ``options['seconds_per_file']`` (default 0.2 s) and logs each."""

    name = "paced"
    step = "Pacing through files"
    per_file = False

    def tool_version(self) -> str:
        return "1"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        delay = float(context.options.get("seconds_per_file", 0.2))
        result = AnalyzerResult(tool=self.name, tool_version="1", rules=[RULE])
        for done, path in enumerate(context.files, start=1):
            if context.is_cancelled():
                break
            time.sleep(delay)
            context.log(f"looked at {path}")
            context.progress(done, len(context.files))
            result.findings.append(
                AnalyzerFinding(
                    rule_id=RULE.id,
                    severity="low",
                    confidence="high",
                    path=path,
                    start_line=1,
                    end_line=1,
                    message=f"paced through {path}",
                    snippet=path,
                )
            )
        result.files_analyzed = len(context.files)
        return result


class CrashingAnalyzer(Analyzer):
    """Dies the way a buggy native extension would."""

    name = "crashing"
    step = "Crashing"

    def tool_version(self) -> str:
        return "1"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        import os

        os._exit(70)


class ProcessProbeAnalyzer(Analyzer):
    """Takes the secrets analyzer's place and notes how its process was started: its command
    line, its environment and the names of the options it was given."""

    name = "secrets"
    step = "Probing the analyzer process"

    def tool_version(self) -> str:
        return "1"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        seen = {
            "command line": Path("/proc/self/cmdline").read_bytes().decode("utf-8", "replace"),
            "environment": Path("/proc/self/environ").read_bytes().decode("utf-8", "replace"),
            "options": sorted(context.options),
        }
        return AnalyzerResult(tool=self.name, tool_version="1", notes=[json.dumps(seen)])
