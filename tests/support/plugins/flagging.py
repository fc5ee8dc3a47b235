"""Analyzers for tests of results: fast, deterministic, and as prolific as a test needs.
Loaded through SCANPULSE_ANALYZER_PATHS (or ``plugin_paths`` of the runner)."""

from __future__ import annotations

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Rule,
)

FLAG = Rule(id="FLAG001", name="FlaggedLine", short_description="A line starting with 'flag'")
NAMED = Rule(id="FLAG002", name="NamedLine", short_description="A line saying 'here'")
PROLIFIC = Rule(id="MANY001", name="AnyLine", short_description="Anything at all")


class FlagAnalyzer(Analyzer):
    """A per-file analyzer in the manner of the real ones, in microseconds per file.

    Every line starting with ``flag`` is a finding (high when it starts ``flag high``,
    else medium); every line containing ``here`` is one
    whose message names the file (as the secrets analyzer's do); a file containing
    ``broken`` is an error and has no findings. ``.skip`` files are not selected.
    """

    name = "flags"
    step = "Looking for flags"
    per_file = True

    def tool_version(self) -> str:
        return "1"

    def selects(self, path: str) -> bool:
        return not path.endswith(".skip")

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        result = AnalyzerResult(tool=self.name, tool_version="1")
        for done, path in enumerate(context.files, start=1):
            text = (context.root / path).read_text("utf-8", "replace")
            if "broken" in text:
                result.errors.append(f"{path}: broken file, skipped")
                continue
            for number, line in enumerate(text.splitlines(), start=1):
                if line.startswith("flag"):
                    severity = "high" if line.startswith("flag high") else "medium"
                    result.findings.append(
                        _finding(FLAG, path, number, "a flagged line", line, severity)
                    )
                if "here" in line:
                    message = f"'here' in {path} on line {number}"
                    result.findings.append(_finding(NAMED, path, number, message, line))
            result.files_analyzed += 1
            context.progress(done, len(context.files))
        used = {finding.rule_id for finding in result.findings}
        result.rules = [rule for rule in (FLAG, NAMED) if rule.id in used]
        return result


class ProlificAnalyzer(Analyzer):
    """Reports ``options['per_file']`` (default 1000) distinct findings in every file, the way
    a runaway tool would; ``options['severity']`` sets their severity (default ``low``)."""

    name = "prolific"
    step = "Finding everything"

    def tool_version(self) -> str:
        return "1"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        per_file = int(context.options.get("per_file", 1000))
        severity = context.options.get("severity", "low")
        result = AnalyzerResult(tool=self.name, tool_version="1", rules=[PROLIFIC])
        for done, path in enumerate(context.files, start=1):
            for number in range(1, per_file + 1):
                result.findings.append(
                    AnalyzerFinding(
                        rule_id=PROLIFIC.id,
                        severity=severity,
                        confidence="high",
                        path=path,
                        start_line=number,
                        end_line=number,
                        message=f"finding {number} of {path}",
                        snippet=f"line {number}",
                    )
                )
            context.progress(done, len(context.files))
        result.files_analyzed = len(context.files)
        return result


def _finding(
    rule: Rule, path: str, line: int, message: str, text: str, severity: str = "medium"
) -> AnalyzerFinding:
    return AnalyzerFinding(
        rule_id=rule.id,
        severity=severity,
        confidence="high",
        path=path,
        start_line=line,
        end_line=line,
        message=message,
        snippet=text.strip(),
    )
