"""Why a scan did not report something an earlier scan of the same ref did: the one rule that
both the scan's summary (what it counts as fixed) and the project's alerts (what they mark
fixed) follow, so the two always agree.

A finding the scan no longer reports is

- **excluded** when the configuration the scan applied would remove it now — its path is
  excluded, its rule disabled (everywhere or under its path), the tool's own configuration
  drops it — or its analyzer is turned off: the scan did not look, so it is not fixed;
- **not checked** when its analyzer failed, reported an error it did not tie to a file, or
  could not fully read its file (skipped, too large, only partly analyzed), or did not run at
  all: not finding it there says nothing;
- **fixed** otherwise: the analyzer looked where it was and it is not there any more.

No Django: the pipeline's output is all it reads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from scanpulse.analyzers.base import AnalyzerFinding

from .coverage import analyzer_gaps
from .noise import NoiseConfig, removal

if TYPE_CHECKING:
    from .run import PipelineOutput

Kind = Literal["fixed", "excluded", "unchecked"]


@dataclass(frozen=True, slots=True)
class Absence:
    kind: Kind
    reason: str = ""  # for excluded and unchecked: why, in words


FIXED = Absence("fixed")


@dataclass(frozen=True, slots=True)
class AbsenceRules:
    """What the scan's configuration and coverage say of a finding it did not report."""

    config: NoiseConfig | None = None
    turned_off: Mapping[str, str] = field(default_factory=dict)  # analyzer → configuration
    tools_ran: Collection[str] = frozenset()  # analyzers that looked everywhere
    # (analyzer, path) a scan could not fully look at; analyzer None: every analyzer
    unsure: Collection[tuple[str | None, str]] = frozenset()

    def why(self, tool: str, rule_id: str, path: str) -> Absence:
        source = self.turned_off.get(tool)
        if source is not None:
            return Absence("excluded", f"analyzer {tool} turned off by {source}")
        if self.config is not None:
            probe = AnalyzerFinding(rule_id, "info", "low", path, None, None, "")
            label = removal(self.config, tool, probe)
            if label is not None:
                # A rule of the server's own (the rule pack beside Bandit) has no file to name.
                source = self.config.source
                return Absence("excluded", label if source == "none" else f"{label} ({source})")
        if tool not in self.tools_ran:
            return Absence("unchecked", f"analyzer {tool} did not look at every file")
        if (tool, path) in self.unsure or (None, path) in self.unsure:
            return Absence("unchecked", f"{path} was not fully analyzed")
        return FIXED


def absence_rules(output: PipelineOutput) -> AbsenceRules:
    """The rules of the scan that produced ``output``."""
    return AbsenceRules(
        config=output.noise,
        turned_off=dict(output.turned_off),
        tools_ran=tools_that_looked_everywhere(output),
        unsure=unsure_paths(output),
    )


def tools_that_looked_everywhere(output: PipelineOutput) -> set[str]:
    """The analyzers that ran to the end without an error no file explains: what they no longer
    report is gone (those with such errors may have missed any file)."""
    return {
        outcome.tool
        for outcome in output.outcomes
        if not outcome.failed
        and all(
            gap["path"] is not None
            for gap in analyzer_gaps(outcome.tool, outcome.result, failed=False)
        )
    }


def unsure_paths(output: PipelineOutput) -> set[tuple[str | None, str]]:
    """The files an analyzer (None: every analyzer) could not fully look at in this scan."""
    unsure: set[tuple[str | None, str]] = {(None, gap.path) for gap in output.skipped_gaps}
    for outcome in output.outcomes:
        unsure.update((outcome.tool, gap.path) for gap in outcome.result.gaps)
    return unsure
