"""An analyzer for the fault tests whose behaviour is chosen by the repository it scans.

- ``flood.txt`` holding a number N: N findings at once (a scan whose saving step takes a while);
- ``spawn.txt``: starts a helper process (``sleep``), logs ``spawned <pid>`` and then waits,
  like a tool that runs subprocesses — the scan must leave none behind when it is cancelled.

It selects only those two files and is per-file, so a repository without them costs no
process at all. Loaded through ``SCANPULSE_ANALYZER_PATHS`` as ``flood:FloodAnalyzer``.
"""

from __future__ import annotations

import subprocess
import time

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
)

RULE = Rule(id="FLOOD001", name="Flood", short_description="One of many findings")
NAMES = frozenset({"flood.txt", "spawn.txt"})


class FloodAnalyzer(Analyzer):
    name = "flood"
    step = "Flooding"
    per_file = True

    def tool_version(self) -> str:
        return "1"

    def selects(self, path: str) -> bool:
        return path in NAMES

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        result = AnalyzerResult(tool=self.name, tool_version="1", rules=[RULE])
        for path in context.files:
            if path == "spawn.txt":
                helper = subprocess.Popen(["sleep", "600"])
                context.log(f"spawned {helper.pid}")
                time.sleep(600)
            elif path == "flood.txt":
                count = int((context.root / path).read_text().strip() or "0")
                result.findings.extend(
                    AnalyzerFinding(
                        rule_id=RULE.id,
                        severity="info",
                        confidence="high",
                        path=path,
                        start_line=index + 1,
                        end_line=index + 1,
                        message=f"flood finding {index}",
                        snippet="",
                    )
                    for index in range(count)
                )
        result.files_analyzed = len(context.files)
        return result
