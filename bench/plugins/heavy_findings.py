"""An analyzer plugin for the benchmarks: every line of a ``heavy/**.txt`` file is one finding.

A line reads ``RULE|SEVERITY|CONFIDENCE|MESSAGE``; the finding is reported at that line, with
the line itself as its snippet (so every line has its own fingerprint). ``bench/findings.py``
generates a repository of such files to give one scan as many findings as it wants, through the
real pipeline (fetch, the isolated analyzer child, fingerprints, classification, SARIF, saving,
alerts). Loaded through ``SCANPULSE_ANALYZER_PATHS`` as ``heavy_findings:HeavyAnalyzer``.
"""

from __future__ import annotations

from scanpulse.analyzers.base import (
    SEVERITIES,
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
)

RULES = [
    Rule(id=f"HEAVY{number:03d}", name=f"Heavy {number}", short_description="A generated finding")
    for number in range(20)
]


class HeavyAnalyzer(Analyzer):
    name = "heavy"
    step = "Reading generated findings"

    def tool_version(self) -> str:
        return "1"

    def selects(self, path: str) -> bool:
        return path.startswith("heavy/") and path.endswith(".txt")

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        result = AnalyzerResult(tool=self.name, tool_version="1", rules=list(RULES))
        for done, path in enumerate(context.files):
            with open(context.root / path, encoding="utf-8") as lines:
                for number, line in enumerate(lines, start=1):
                    rule, severity, confidence, message = line.rstrip("\n").split("|", 3)
                    result.findings.append(
                        AnalyzerFinding(
                            rule_id=rule,
                            severity=severity if severity in SEVERITIES else "info",  # type: ignore[arg-type]
                            confidence=confidence,  # type: ignore[arg-type]
                            path=path,
                            start_line=number,
                            end_line=number,
                            message=message,
                            snippet=line,
                        )
                    )
            context.progress(done + 1, len(context.files))
        result.files_analyzed = len(context.files)
        return result
