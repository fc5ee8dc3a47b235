"""Detection: what Bandit alone and scanpulse's analyzers find in a labelled corpus.

The corpus (``bench/detection/corpus``) holds small programs per vulnerability family. Every
case is one line carrying a label comment: ``label: vulnerable CWE-89`` or ``label: safe
CWE-89`` (file, line, CWE, true/false). The analyzers run as in a scan (each in its isolated
child, no cache):

- **Bandit alone**: the ``bandit`` analyzer;
- **scanpulse**: every analyzer that reads code: ``bandit``, ``secrets`` and the rule pack
  (``semgrep``), with Bandit's checks the pack supersedes left to it, as a scan does.

A finding detects a case when it covers the case's line and names one of the case category's
weaknesses (``ACCEPTED``: the CWE of the label plus the ids Bandit uses for the same problem,
so Bandit is credited for every case it reports). A vulnerable case detected is a true
positive; a safe case detected is a false positive. Per category the script prints the
true-positive rate (TPR), the false-positive rate (FPR) and their difference, for both
columns, then the unweighted averages over categories and one summary line.

Usage (from the repository root)::

    .venv/bin/python bench/detection.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scanpulse.analyzers.base import AnalyzerFinding, cwe_ids  # noqa: E402
from scanpulse.analyzers.redaction import KEY_OPTION  # noqa: E402
from scanpulse.analyzers.runner import run_analyzer  # noqa: E402
from scanpulse.analyzers.runs import AnalyzerFailure  # noqa: E402
from scanpulse.pipeline.noise import NoiseConfig, apply_noise_config  # noqa: E402
from scanpulse.pipeline.rule_pack import superseded_bandit_checks  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "detection" / "corpus"
LABEL = re.compile(r"label:\s*(vulnerable|safe)\s+(CWE-\d+)")

BANDIT = "scanpulse.analyzers.bandit:BanditAnalyzer"
SECRETS = "scanpulse.analyzers.secrets:SecretsAnalyzer"
RULE_PACK = "scanpulse.analyzers.semgrep:SemgrepAnalyzer"
COLUMNS = {"Bandit alone": (BANDIT,), "scanpulse": (BANDIT, SECRETS, RULE_PACK)}

CATEGORIES = {
    "CWE-89": "SQL injection",
    "CWE-943": "NoSQL injection",
    "CWE-78": "command injection",
    "CWE-95": "code injection",
    "CWE-22": "path traversal",
    "CWE-918": "SSRF",
    "CWE-601": "open redirect",
    "CWE-1336": "template injection (SSTI)",
    "CWE-79": "XSS",
    "CWE-611": "XXE",
    "CWE-90": "LDAP injection",
    "CWE-643": "XPath injection",
    "CWE-502": "insecure deserialization",
    "CWE-916": "weak password hashing",
    "CWE-338": "insecure randomness",
    "CWE-614": "insecure cookies",
    "CWE-501": "trust boundary (session)",
    "CWE-489": "debug mode",
    "CWE-798": "hard-coded secret key",
    "CWE-183": "any host allowed",
    "CWE-352": "CSRF",
    "CWE-347": "JWT not verified",
    "CWE-295": "TLS not verified",
    "CWE-327": "weak cryptography",
}
# The weaknesses that count for a category: its own, and the ones Bandit files it under
# (B307 eval and B102 exec: CWE-78; B703 mark_safe: CWE-80; B701 Jinja autoescape and B201
# Flask debug: CWE-94; B320 lxml: CWE-20; B324 md5: CWE-327; B311 random: CWE-330; B105
# hard-coded password: CWE-259).
ACCEPTED: dict[str, set[str]] = {
    "CWE-95": {"CWE-95", "CWE-94", "CWE-78"},
    "CWE-79": {"CWE-79", "CWE-80", "CWE-94"},
    "CWE-1336": {"CWE-1336", "CWE-94"},
    "CWE-611": {"CWE-611", "CWE-20"},
    "CWE-916": {"CWE-916", "CWE-327", "CWE-328"},
    "CWE-338": {"CWE-338", "CWE-330"},
    "CWE-614": {"CWE-614", "CWE-1004"},
    "CWE-489": {"CWE-489", "CWE-94"},
    "CWE-798": {"CWE-798", "CWE-259"},
    "CWE-327": {"CWE-327", "CWE-328"},
    "CWE-943": {"CWE-943", "CWE-89"},
}


@dataclass(frozen=True)
class Case:
    path: str
    line: int
    cwe: str
    vulnerable: bool


def load_cases() -> tuple[list[Case], list[str]]:
    cases: list[Case] = []
    files: list[str] = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        relative = path.relative_to(CORPUS).as_posix()
        files.append(relative)
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = LABEL.search(text)
            if match:
                cases.append(Case(relative, number, match[2], match[1] == "vulnerable"))
    return cases, files


def finding_cwes(tool: str, finding: AnalyzerFinding) -> set[str]:
    found = set(cwe_ids(finding.properties.get("cwe")))
    if tool == "secrets":  # every secrets finding is a hard-coded credential
        found.add("CWE-798")
    return found


def run_column(
    analyzers: Sequence[str], files: list[str]
) -> tuple[list[tuple[str, AnalyzerFinding]], float]:
    started = time.monotonic()
    results = []
    for path in analyzers:
        result = run_analyzer(path, root=CORPUS, files=files, options={KEY_OPTION: "00" * 32})
        if isinstance(result, AnalyzerFailure):
            raise SystemExit(f"{path} failed: {result.errors}")
        results.append(result)
    # As a scan applies it: with the rule pack beside Bandit, Bandit's checks it supersedes
    # are left to it (``pipeline.rule_pack``); no repository configuration otherwise.
    tools = {result.tool for result in results}
    config = NoiseConfig(left_to_rule_pack=superseded_bandit_checks(tools, ()))
    found: list[tuple[str, AnalyzerFinding]] = []
    for result in results:
        kept, _removed = apply_noise_config(config, result.tool, result)
        found += [(kept.tool, finding) for finding in kept.findings]
    return found, time.monotonic() - started


def detected(case: Case, findings: list[tuple[str, AnalyzerFinding]]) -> bool:
    accepted = ACCEPTED.get(case.cwe, {case.cwe})
    for tool, finding in findings:
        if finding.path != case.path or finding.start_line is None:
            continue
        end = finding.end_line or finding.start_line
        if finding.start_line <= case.line <= end and finding_cwes(tool, finding) & accepted:
            return True
    return False


def rates(cases: list[Case], findings: list[tuple[str, AnalyzerFinding]]) -> tuple[float, float]:
    vulnerable = [c for c in cases if c.vulnerable]
    safe = [c for c in cases if not c.vulnerable]
    tpr = sum(detected(c, findings) for c in vulnerable) / len(vulnerable) if vulnerable else 0.0
    fpr = sum(detected(c, findings) for c in safe) / len(safe) if safe else 0.0
    return tpr, fpr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    cases, files = load_cases()
    columns = {}
    seconds = {}
    for name, analyzers in COLUMNS.items():
        columns[name], seconds[name] = run_column(analyzers, files)
    by_category: dict[str, list[Case]] = {}
    for case in cases:
        by_category.setdefault(case.cwe, []).append(case)
    unknown = set(by_category) - set(CATEGORIES)
    if unknown:
        raise SystemExit(f"labels of unknown categories: {sorted(unknown)}")

    header = f"{'category':<38} {'vuln':>4} {'safe':>4}"
    for name in COLUMNS:
        header += f" | {name + ' TPR':>18} {'FPR':>6} {'diff':>7}"
    print(f"{len(cases)} labelled cases in {len(files)} files ({CORPUS.relative_to(REPO_ROOT)})")
    print(header)
    print("-" * len(header))
    figures: dict[str, dict[str, tuple[float, float]]] = {}
    for cwe in sorted(by_category, key=lambda c: CATEGORIES[c]):
        group = by_category[cwe]
        row = (
            f"{CATEGORIES[cwe] + ' (' + cwe + ')':<38} "
            f"{sum(c.vulnerable for c in group):>4} {sum(not c.vulnerable for c in group):>4}"
        )
        figures[cwe] = {}
        for name in COLUMNS:
            tpr, fpr = rates(group, columns[name])
            figures[cwe][name] = (tpr, fpr)
            row += f" | {tpr:>18.0%} {fpr:>6.0%} {tpr - fpr:>+7.0%}"
        print(row)
    print("-" * len(header))
    averages = {}
    row = f"{'average over categories':<38} {sum(c.vulnerable for c in cases):>4} "
    row += f"{sum(not c.vulnerable for c in cases):>4}"
    for name in COLUMNS:
        tpr = sum(f[name][0] for f in figures.values()) / len(figures)
        fpr = sum(f[name][1] for f in figures.values()) / len(figures)
        averages[name] = (tpr, fpr)
        row += f" | {tpr:>18.0%} {fpr:>6.0%} {tpr - fpr:>+7.0%}"
    print(row)
    row = f"{'all cases pooled':<38} {'':>4} {'':>4}"
    for name in COLUMNS:
        tpr, fpr = rates(cases, columns[name])
        row += f" | {tpr:>18.0%} {fpr:>6.0%} {tpr - fpr:>+7.0%}"
    print(row)
    print("analysis time: " + ", ".join(f"{name} {seconds[name]:.1f} s" for name in COLUMNS))
    worst = min(f["scanpulse"][0] - f["scanpulse"][1] for f in figures.values())
    max_fpr = max(f["scanpulse"][1] for f in figures.values())
    b_tpr, b_fpr = averages["Bandit alone"]
    s_tpr, s_fpr = averages["scanpulse"]
    print(
        f"summary: average TPR-FPR Bandit alone {b_tpr - b_fpr:+.1%}, scanpulse "
        f"{s_tpr - s_fpr:+.1%} over {len(figures)} categories; scanpulse's lowest category "
        f"{worst:+.1%}, highest FPR {max_fpr:.1%}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    cwe: {name: {"tpr": v[0], "fpr": v[1]} for name, v in per.items()}
                    for cwe, per in figures.items()
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
