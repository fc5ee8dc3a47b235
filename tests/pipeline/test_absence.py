"""Why a scan no longer reports a finding: one rule for the summary and the alerts."""

from __future__ import annotations

from scanpulse.pipeline.absence import Absence, AbsenceRules
from scanpulse.pipeline.noise import NoiseConfig
from scanpulse.pipeline.repo_config import parse_rules

TOML = """
exclude = ["docs/**"]
disable = ["B404"]
[per-path-disable]
"tests/**" = ["B101"]
[analyzers]
secrets = false
"""


def rules(**kwargs) -> AbsenceRules:
    parsed = parse_rules(TOML, file=".scanpulse.toml", analyzers=["bandit", "secrets"])
    config = NoiseConfig(".scanpulse.toml", parsed)
    defaults = {
        "config": config,
        "turned_off": {"secrets": ".scanpulse.toml"},
        "tools_ran": {"bandit"},
        "unsure": set(),
    }
    return AbsenceRules(**(defaults | kwargs))


def test_each_reason_in_order() -> None:
    why = rules(unsure={("bandit", "app/partial.py"), (None, "app/skipped.py")}).why
    assert why("secrets", "aws-access-key", "app.py") == Absence(
        "excluded", "analyzer secrets turned off by .scanpulse.toml"
    )
    assert why("bandit", "B602", "docs/x.py") == Absence(
        "excluded", "exclude docs/** (.scanpulse.toml)"
    )
    assert why("bandit", "B404", "app.py") == Absence("excluded", "disable B404 (.scanpulse.toml)")
    assert why("bandit", "B101", "tests/test_a.py") == Absence(
        "excluded", "per-path-disable tests/**: B101 (.scanpulse.toml)"
    )
    assert why("bandit", "B101", "app/partial.py") == Absence(
        "unchecked", "app/partial.py was not fully analyzed"
    )
    assert why("bandit", "B101", "app/skipped.py").kind == "unchecked"
    assert why("dependencies", "SP-DEP-VULNERABLE", "requirements.txt") == Absence(
        "unchecked", "analyzer dependencies did not look at every file"
    )
    assert why("bandit", "B101", "app.py") == Absence("fixed")


def test_without_a_configuration_only_coverage_decides() -> None:
    why = AbsenceRules(tools_ran={"bandit"}).why
    assert why("bandit", "B404", "docs/x.py").kind == "fixed"
    assert why("secrets", "x", "a.py").kind == "unchecked"
