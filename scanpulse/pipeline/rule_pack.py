"""The rule pack's options for one scan: families switched off and the organization's own rule
files (the server's rule folder, given in the analyzer options, plus the repository's files
named under ``[rule-pack] rules`` in ``.scanpulse.toml``).

A repository's rule files are untrusted data like the rest of the checkout: only regular files
inside it are used (no link is followed), at most ``MAX_RULE_FILES`` of them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from scanpulse.analyzers.semgrep.pack import RULE_SUFFIXES

from .repo_config import ScanRules

RULE_PACK_ANALYZER = "semgrep"
MAX_RULE_FILES = 200
# Bandit's checks whose ground a family of the pack covers without their false alarms: while
# the pack runs with that family on, these Bandit findings are left to it. Bandit reports every
# use of ``subprocess`` (B404), every call to it without a shell (B603) and every program named
# without its full path (B607) whatever the arguments, and every shell command that is not a
# literal (B602, B605) even when each value is quoted; the pack's command-injection rules report
# the commands built from request data (high) and the shell commands built from unquoted values
# (medium). docs/analyzers.md gives the measure (the detection benchmark).
SUPERSEDED_BANDIT_CHECKS: Mapping[str, frozenset[str]] = {
    "command-injection": frozenset({"B404", "B602", "B603", "B605", "B607"}),
}


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def rule_files_in(directory: Path) -> list[Path]:
    """The rule files (``*.yaml``, ``*.yml``) under ``directory``, no link followed."""
    found: list[Path] = []
    for base, dirs, names in os.walk(directory, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(base) / name
            if name.endswith(RULE_SUFFIXES) and _regular(path):
                found.append(path)
            if len(found) >= MAX_RULE_FILES:
                return found
    return found


def repository_rule_files(root: Path, paths: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """The rule files the repository names, and a message for each name that gives none."""
    real_root = os.path.realpath(root)
    files: list[Path] = []
    messages: list[str] = []
    for name in paths:
        path = root / name
        real = os.path.realpath(path)
        if real != os.path.normpath(os.path.join(real_root, name)) or not (
            real.startswith(real_root + os.sep)
        ):
            messages.append(f"rule-pack rules: {name!r} is a link or lies outside: not used.")
            continue
        if _regular(path):
            files.append(path)
        elif path.is_dir():
            files += rule_files_in(path)
        else:
            messages.append(f"rule-pack rules: {name!r} is not in the repository: not used.")
    return files[:MAX_RULE_FILES], messages


def families_off(options: Mapping[str, Any], rules: ScanRules) -> frozenset[str]:
    """The rule pack's families switched off for a scan: by the server (the analyzer's
    ``disable_families`` option) or by the repository (``[rule-pack] disable-families``)."""
    return frozenset(options.get("disable_families", [])) | rules.families_off


def rule_pack_options(
    options: dict[str, Any], rules: ScanRules, root: Path
) -> tuple[dict[str, Any], list[str]]:
    """``options`` of the rule-pack analyzer with the scan's configuration applied."""
    merged = dict(options)
    merged["disable_families"] = sorted(families_off(options, rules))
    own, messages = repository_rule_files(root, rules.rule_paths)
    merged["rule_files"] = [*merged.get("rule_files", []), *(str(p) for p in own)]
    return merged, messages


def superseded_bandit_checks(analyzers: Collection[str], off: Collection[str]) -> dict[str, str]:
    """Bandit check id → the pack's family it is left to, in a scan that runs ``analyzers``
    (after the configuration turned some off) with the families ``off`` switched off."""
    if RULE_PACK_ANALYZER not in analyzers or "bandit" not in analyzers:
        return {}
    return {
        check: family
        for family, checks in SUPERSEDED_BANDIT_CHECKS.items()
        if family not in off
        for check in sorted(checks)
    }
