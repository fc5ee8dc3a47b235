"""Noise control: the repository's configuration read from a checkout, and applied to what
the analyzers are given and to what they report.

Files under ``exclude`` globs are not analyzed at all; a finding is removed by the first rule
that matches it, in this order: ``exclude``, the tool's own configuration (Bandit's excluded
paths, ``skips`` and ``tests``), ``disable``, ``per-path-disable``. Severity overrides then
apply to what is kept. detect-secrets' audited false positives are kept but marked dismissed
(``dismissed_reason`` and ``dismissed_by`` in the finding's properties). Every rule counts
what it removed, for the scan summary.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanpulse.analyzers.base import AnalyzerFinding, AnalyzerResult
from scanpulse.analyzers.redaction import secret_id
from scanpulse.analyzers.semgrep.pack import builtin_rule_families

from .repo_config import (
    CONFIG_FILE,
    MAX_CONFIG_BYTES,
    PROJECT_DEFAULTS,
    PYPROJECT,
    RepoConfigError,
    ScanRules,
    load_toml,
    parse_rules,
    pyproject_rules,
)
from .rule_pack import RULE_PACK_ANALYZER
from .tool_configs import (
    BANDIT_INI,
    MAX_BANDIT_INI_BYTES,
    MAX_BASELINE_BYTES,
    SECRETS_BASELINE,
    BanditSettings,
    BaselineEntry,
    bandit_from_ini,
    bandit_from_pyproject,
    baseline_false_positives,
    merge_bandit,
)

# In the label of a Bandit finding left to the rule pack (``rule_pack``).
LEFT_TO_RULE_PACK = "left to the rule pack"
DISMISSED_REASON = "dismissed_reason"
DISMISSED_BY = "dismissed_by"
ORIGINAL_SEVERITY = "original_severity"


@dataclass(frozen=True, slots=True)
class NoiseConfig:
    """Everything that decides what a scan analyzes and reports, and where it came from."""

    source: str = "none"  # CONFIG_FILE, "pyproject.toml [tool.scanpulse]", PROJECT_DEFAULTS
    rules: ScanRules = field(default_factory=ScanRules)
    bandit: BanditSettings | None = None
    baseline: frozenset[BaselineEntry] = frozenset()
    has_baseline: bool = False  # a .secrets.baseline was read (it is not scanned for secrets)
    messages: tuple[str, ...] = ()  # for the scan log
    # Bandit check id → the rule pack's family it is left to in this scan (``rule_pack``).
    left_to_rule_pack: Mapping[str, str] = field(default_factory=dict)
    # The rule pack's families switched off for this scan (by the repository or the server):
    # what their rules reported before is excluded, not fixed.
    rule_pack_families_off: frozenset[str] = frozenset()

    def analyzer_on(self, name: str) -> bool:
        return self.rules.analyzers.get(name, True)


def _read(root: Path, name: str, limit: int) -> str | None:
    """The text of the regular file ``name`` at the root of the checkout, or None without one."""
    path = root / name
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise RepoConfigError(
            name, None, "", "not a regular file (a link or a directory): not read"
        )
    if info.st_size > limit:
        raise RepoConfigError(name, None, "", f"larger than {limit // 1024} KiB")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise RepoConfigError(name, None, "", f"larger than {limit // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RepoConfigError(name, None, "", "not valid UTF-8") from None


def read_noise_config(root: Path, *, defaults: str = "", analyzers: Collection[str]) -> NoiseConfig:
    """The configuration of the checkout at ``root``, or the project's ``defaults`` when the
    repository has none. Raises :class:`RepoConfigError` for anything that cannot be used."""
    messages: list[str] = []
    own = _read(root, CONFIG_FILE, MAX_CONFIG_BYTES)
    pyproject_text = _read(root, PYPROJECT, MAX_CONFIG_BYTES)
    pyproject: dict[str, Any] = {}
    if pyproject_text is not None:
        try:
            pyproject = load_toml(pyproject_text, PYPROJECT)
        except RepoConfigError:
            if "tool.scanpulse" in pyproject_text or "tool.bandit" in pyproject_text:
                raise
            messages.append(f"{PYPROJECT} is not valid TOML: it configures nothing here.")
    from_pyproject = pyproject_rules(pyproject_text or "", pyproject, analyzers=analyzers)
    rules = ScanRules()
    if own is not None:
        rules = parse_rules(own, file=CONFIG_FILE, analyzers=analyzers)
        source = CONFIG_FILE
        if from_pyproject is not None:
            messages.append(
                f"{CONFIG_FILE} wins over [tool.scanpulse] in {PYPROJECT}, which is not used."
            )
    elif from_pyproject is not None:
        rules, source = from_pyproject, f"{PYPROJECT} [tool.scanpulse]"
    elif defaults.strip():
        rules, source = (
            parse_rules(defaults, file=PROJECT_DEFAULTS, analyzers=analyzers),
            PROJECT_DEFAULTS,
        )
    else:
        source = "none"
    ini = _read(root, BANDIT_INI, MAX_BANDIT_INI_BYTES)
    bandit = merge_bandit(
        bandit_from_pyproject(pyproject_text or "", pyproject),
        bandit_from_ini(ini) if ini is not None else None,
    )
    baseline_text = _read(root, SECRETS_BASELINE, MAX_BASELINE_BYTES)
    baseline = baseline_false_positives(baseline_text) if baseline_text is not None else frozenset()
    messages.insert(0, f"Configuration: {source}.")
    if bandit is not None:
        messages.append(f"Bandit settings from {' and '.join(bandit.sources)}.")
    if baseline_text is not None:
        messages.append(
            f"{SECRETS_BASELINE}: {len(baseline)} audited false positive"
            f"{'' if len(baseline) == 1 else 's'}."
        )
    return NoiseConfig(source, rules, bandit, baseline, baseline_text is not None, tuple(messages))


# -- applying it -----------------------------------------------------------------------------


def exclude_label(pattern: str) -> str:
    return f"exclude {pattern}"


def select_files(config: NoiseConfig, files: list[str]) -> tuple[list[str], Counter[str]]:
    """The files to analyze, and how many each ``exclude`` glob left out."""
    kept = []
    excluded: Counter[str] = Counter()
    for path in files:
        glob = next((g for g in config.rules.exclude if g.matches(path)), None)
        if glob is None:
            kept.append(path)
        else:
            excluded[exclude_label(glob.pattern)] += 1
    return kept, excluded


def analyzer_files(config: NoiseConfig, name: str, files: list[str]) -> list[str]:
    """The files an analyzer is given: Bandit's own excluded paths are left out of its, and
    the secrets analyzer does not read the baseline's hashes (as detect-secrets does not)."""
    if name == "secrets" and config.has_baseline:
        return [path for path in files if path != SECRETS_BASELINE]
    if name != "bandit" or config.bandit is None or not config.bandit.exclude:
        return files
    bandit = config.bandit
    return [path for path in files if bandit.excluded(path) is None]


def removal(config: NoiseConfig, tool: str, finding: AnalyzerFinding) -> str | None:
    """The label of the first rule that removes ``finding``, or None to keep it."""
    rules = config.rules
    glob = next((g for g in rules.exclude if g.matches(finding.path)), None)
    if glob is not None:
        return exclude_label(glob.pattern)
    if tool == "bandit" and config.bandit is not None:
        entry = config.bandit.excluded(finding.path)
        if entry is not None:
            return f"bandit exclude {entry} ({', '.join(config.bandit.sources)})"
        why = config.bandit.drops(finding.rule_id)
        if why is not None:
            return f"bandit {why} ({', '.join(config.bandit.sources)}): {finding.rule_id}"
    if tool == "bandit" and finding.rule_id in config.left_to_rule_pack:
        owner = config.left_to_rule_pack[finding.rule_id]
        return f"bandit {finding.rule_id}: {LEFT_TO_RULE_PACK}'s {owner} rules"
    if tool == RULE_PACK_ANALYZER and config.rule_pack_families_off:
        family = builtin_rule_families().get(finding.rule_id)
        if family is not None and family in config.rule_pack_families_off:
            return f"rule-pack family {family} switched off"
    if finding.rule_id in rules.disable:
        return f"disable {finding.rule_id}"
    for disabled in rules.per_path:
        if finding.rule_id in disabled.rules and disabled.glob.matches(finding.path):
            return f"per-path-disable {disabled.glob.pattern}: {finding.rule_id}"
    return None


def _baseline_ids(config: NoiseConfig, key: bytes | None) -> set[tuple[str, str, str]]:
    if key is None:
        return set()
    return {(e.path, e.secret_type, secret_id(key, e.hashed_secret)) for e in config.baseline}


def apply_noise_config(
    config: NoiseConfig, tool: str, result: AnalyzerResult, *, key: bytes | None = None
) -> tuple[AnalyzerResult, Counter[str]]:
    """``result`` with the findings the configuration removes left out, severities overridden
    and baseline false positives marked dismissed; and what each rule removed or dismissed.

    ``key`` is the key the analyzer identified secrets with: a baseline entry (which holds
    detect-secrets' hash of the secret) matches a finding by its keyed identifier."""
    counts: Counter[str] = Counter()
    audited = _baseline_ids(config, key) if tool == "secrets" else set()
    kept = []
    for finding in result.findings:
        label = removal(config, tool, finding)
        if label is not None:
            counts[label] += 1
            continue
        override = config.rules.severity.get(finding.rule_id)
        if override is not None and override != finding.severity:
            properties = {**finding.properties, ORIGINAL_SEVERITY: finding.severity}
            finding = dataclasses.replace(finding, severity=override, properties=properties)
        if audited:
            identity = (
                finding.path,
                str(finding.properties.get("secret_type", "")),
                str(finding.properties.get("secret_id", "")),
            )
            if identity in audited:
                properties = {
                    **finding.properties,
                    DISMISSED_REASON: "false_positive",
                    DISMISSED_BY: SECRETS_BASELINE,
                }
                finding = dataclasses.replace(finding, properties=properties)
                counts[f"{SECRETS_BASELINE} false positives (dismissed)"] += 1
        kept.append(finding)
    if all(new is old for new, old in zip(kept, result.findings, strict=False)) and len(
        kept
    ) == len(result.findings):
        return result, counts  # nothing changed: the same result
    return dataclasses.replace(result, findings=kept), counts
