"""The ``sarif-import`` analyzer: an uploaded SARIF 2.1.0 report (any tool's) as the findings
of a scan. It reads one file of the scan's "checkout" (option ``report``: its name), checked
at upload already (``convert.check``), and reports its findings under the report's own tool
(``AnalyzerResult.tool``), so that they are fingerprinted, triaged and gated like a native
analyzer's. ``sarif-schema-2.1.0.json`` is the OASIS schema the reports are validated against
(see README.md in this folder)."""

from __future__ import annotations

import json
from typing import ClassVar

from scanpulse.analyzers.base import Analyzer, AnalyzerContext, AnalyzerResult

from .convert import SarifRefused, check

__all__ = ["SarifImportAnalyzer"]

NAME = "sarif-import"


class SarifImportAnalyzer(Analyzer):
    name: ClassVar[str] = NAME
    step: ClassVar[str] = "Reading the uploaded SARIF report"

    def tool_version(self) -> str:
        return "2.1.0"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        report = context.options.get("report")
        root = str(context.options.get("root") or "")
        context.progress(0, 1)
        if not isinstance(report, str) or report not in context.files:
            return AnalyzerResult(
                tool=NAME, tool_version="", errors=["no uploaded SARIF report to read"]
            )
        try:
            document = json.loads((context.root / report).read_bytes())
            result = check(document, root=root)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = "; ".join(exc.details) if isinstance(exc, SarifRefused) else ""
            return AnalyzerResult(
                tool=NAME,
                tool_version="",
                errors=[f"{report}: {exc}" + (f" ({detail})" if detail else "")],
            )
        context.progress(1, 1)
        return result
