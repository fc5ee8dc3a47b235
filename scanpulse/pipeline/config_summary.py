"""What a scan's configuration did, as the scan summary keeps it (``summary["config"]``) and
as the API, the pages and the command line read it back: which configuration applied and
how many findings (and files) each of its rules removed. No Django: the command line reads it
from a server's JSON too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import PipelineOutput

DISMISSED_SUFFIX = "(dismissed)"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class ConfigRuleCount:
    """What one rule of the scan's configuration did: findings removed (or dismissed, for
    a ``.secrets.baseline``), files left out by an ``exclude`` glob."""

    rule: str  # "disable B101", "per-path-disable tests/**: B101", "exclude docs/**", …
    findings: int = 0
    files: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "findings": self.findings, "files": self.files}


@dataclass(frozen=True, slots=True)
class ConfigSummary:
    """Which configuration a scan applied and what each of its rules removed."""

    source: str = "none"  # ".scanpulse.toml", "pyproject.toml [tool.scanpulse]", "project defaults"
    rules: tuple[ConfigRuleCount, ...] = ()

    @property
    def removed(self) -> int:
        """Findings removed (dismissed ones are kept, so not counted)."""
        return sum(rule.findings for rule in self.rules if not rule.rule.endswith(DISMISSED_SUFFIX))

    @property
    def dismissed(self) -> int:
        return sum(rule.findings for rule in self.rules if rule.rule.endswith(DISMISSED_SUFFIX))

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "removed": self.removed,
            "dismissed": self.dismissed,
            "rules": [rule.to_json() for rule in self.rules],
        }

    @classmethod
    def from_json(cls, data: Any) -> ConfigSummary:
        """A summary of an earlier release has none: no configuration applied."""
        if not isinstance(data, Mapping):
            return cls()
        rules = data.get("rules")
        return cls(
            source=str(data.get("source") or "none"),
            rules=tuple(
                ConfigRuleCount(
                    str(rule.get("rule") or ""),
                    _count(rule.get("findings")),
                    _count(rule.get("files")),
                )
                for rule in (rules if isinstance(rules, list) else [])
                if isinstance(rule, Mapping)
            ),
        )

    @classmethod
    def of(cls, output: PipelineOutput) -> ConfigSummary:
        findings = output.removed()
        files = output.excluded_files
        labels = sorted(set(findings) | set(files), key=lambda r: (-findings.get(r, 0), r))
        return cls(
            source=output.config_source,
            rules=tuple(
                ConfigRuleCount(label, findings.get(label, 0), files.get(label, 0))
                for label in labels
            ),
        )
