"""The ``semgrep`` analyzer: the rule pack on the Semgrep engine, offline, in the child process.

Semgrep runs as its own command (``semgrep scan``) from this environment, with local rule files
only (``--config <file>`` for each), metrics and the version check off, no registry and no
network, in the checkout with the selected files named one by one (so that no ``.gitignore`` or
``.semgrepignore`` of the repository decides what is scanned). Its JSON output is turned into
findings; the rule's metadata gives severity, confidence, CWE and the help text.

Options (``context.options``): ``disable_families`` (families switched off), ``rule_files``
(absolute paths of an organization's own rule files: the server's rule folder and the
repository's files named in ``.scanpulse.toml``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from scanpulse.analyzers.base import (
    Analyzer,
    AnalyzerContext,
    AnalyzerFinding,
    AnalyzerResult,
    Gap,
    Rule,
)
from scanpulse.analyzers.semgrep import pack

# Bump when this module's own logic changes what it reports, so cached results are redone.
_ANALYZER_REVISION = "1"
SNIPPET_MAX_LINES = 5
# Files per semgrep run: bounds the command line, and gives progress between runs.
BATCH_FILES = 1500
# Seconds one rule may take on one file before semgrep gives up on that pair (reported as a gap).
RULE_TIMEOUT_S = 20
# Semgrep's engine reserves address space per thread from the stack limit, and semgrep raises
# its soft limit to the hard one: unbounded, it cannot start under the child's address-space
# limit. Both limits are set to 4 MiB for semgrep's processes.
_STACK_BYTES = 4 * 1024 * 1024

SOURCE_SUFFIXES = (".py", ".pyw", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
TEMPLATE_SUFFIXES = (".html", ".htm", ".jinja", ".jinja2", ".j2", ".djhtml")
# Third-party code shipped in a repository (bundled libraries, minified builds) is not the
# project's own and costs the most to analyze: jQuery alone takes longer than a thousand
# Python files. Semgrep's own defaults leave the same files out.
THIRD_PARTY_DIRS = frozenset({"node_modules", "bower_components", "vendor", "third_party"})
MINIFIED_SUFFIXES = (".min.js", ".min.mjs", ".bundle.js", "-min.js")


def _semgrep_command() -> str:
    """The ``semgrep`` script next to this interpreter (the child runs with ``python -I``)."""
    beside = Path(sys.executable).parent / "semgrep"
    return str(beside) if beside.exists() else "semgrep"


def _semgrep_env(home: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "TMPDIR": home,
        "XDG_CONFIG_HOME": home,
        "XDG_CACHE_HOME": home,
        "LANG": "C.UTF-8",
        "SEMGREP_SEND_METRICS": "off",
        "SEMGREP_ENABLE_VERSION_CHECK": "0",
        "SEMGREP_VERSION_CACHE_PATH": os.path.join(home, "version-cache"),
        "SEMGREP_SETTINGS_FILE": os.path.join(home, "settings.yml"),
        "SEMGREP_LOG_FILE": os.path.join(home, "semgrep.log"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def _lower_stack_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_STACK)
    wanted = _STACK_BYTES if hard == resource.RLIM_INFINITY else min(_STACK_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_STACK, (wanted, wanted))


def _tool_version() -> str:
    from importlib.metadata import version

    return version("semgrep")


def _snippet(lines: list[str], start: int, end: int) -> str:
    last = min(end, start + SNIPPET_MAX_LINES - 1)
    return "\n".join(lines[n - 1].strip() for n in range(start, last + 1) if 0 < n <= len(lines))


def _read_bytes(root: Path, path: str) -> bytes | None:
    try:
        fd = os.open(root / path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _read_lines(root: Path, path: str) -> list[str]:
    content = _read_bytes(root, path)
    if content is None:
        return []
    text = content.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _error_gap(error: dict[str, Any], files: set[str]) -> tuple[str, Gap] | None:
    """A semgrep error about one of the files: its message and gap (None: about no file)."""
    path = str(error.get("path") or "").removeprefix("./")
    if path not in files:
        return None
    kind = str(error.get("type") or "error")
    if isinstance(error.get("type"), list):
        kind = str(error["type"][0])
    lowered = kind.lower()
    if "timeout" in lowered:
        reason = "semgrep gave up on some rules for this file (time limit)"
    elif "memory" in lowered:
        reason = "semgrep gave up on some rules for this file (memory limit)"
    elif "syntax" in lowered or "lexical" in lowered or "parse" in lowered:
        reason = "semgrep could parse this file only in part (syntax error)"
    else:
        reason = f"semgrep could not fully analyze this file ({kind})"
    return f"{path}: {reason}", Gap(path, "partial", reason)


class SemgrepAnalyzer(Analyzer):
    """scanpulse's rule pack (and an organization's rules) on Python, JavaScript/TypeScript and
    HTML template files. Findings depend on one file only (Semgrep's taint tracking here is
    within a file), so results are cached per file under the rule pack's version."""

    name: ClassVar[str] = "semgrep"
    step: ClassVar[str] = "Running the rule pack"
    per_file: ClassVar[bool] = True

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}

    def tool_version(self) -> str:
        return _tool_version()

    def config_key(self, options: dict[str, Any]) -> str:
        raw = json.dumps(
            [sorted(options.get("disable_families", [])), sorted(options.get("rule_files", []))]
        )
        key = self._keys.get(raw)
        if key is None:
            key = f"analyzer-{_ANALYZER_REVISION}-rules-{pack.version(self._rule_files(options))}"
            self._keys[raw] = key
        return key

    def selects(self, path: str) -> bool:
        if not path.endswith(SOURCE_SUFFIXES + TEMPLATE_SUFFIXES) or path.endswith(
            MINIFIED_SUFFIXES
        ):
            return False
        return THIRD_PARTY_DIRS.isdisjoint(path.split("/")[:-1])

    @staticmethod
    def _rule_files(options: dict[str, Any]) -> list[Path]:
        files = pack.selected_files(list(options.get("disable_families", [])))
        disabled = pack.CUSTOM_FAMILY in options.get("disable_families", [])
        extra = [] if disabled else [Path(p) for p in options.get("rule_files", [])]
        return files + [p for p in extra if p.is_file() and not p.is_symlink()]

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        rule_files = self._rule_files(context.options)
        notes: list[str] = []
        errors: list[str] = []
        known: dict[str, pack.PackRule] = {}
        usable: list[Path] = []
        # The pack's request-data rules, the pack's other rules, an organization's files.
        request_rules: list[Path] = []
        other_rules: list[Path] = []
        own_files: list[Path] = []
        custom = 0
        for path in rule_files:
            try:
                loaded = pack.load_rules(path)
            except pack.RuleFileError as exc:
                notes.append(f"rule file not used: {exc}")
                continue
            usable.append(path)
            family = pack.family_of(path)
            if family == pack.CUSTOM_FAMILY:
                own_files.append(path)
            elif loaded and all(rule.from_request for rule in loaded):
                request_rules.append(path)
            else:
                other_rules.append(path)
            for rule in loaded:
                known.setdefault(rule.id, rule)
            if family == pack.CUSTOM_FAMILY:
                custom += len(loaded)
                notes.append(f"custom rules: {path.name} ({len(loaded)} rules)")
        off = sorted(set(context.options.get("disable_families", [])))
        builtin = sum(1 for rule in known.values() if rule.family != pack.CUSTOM_FAMILY)
        notes.insert(
            0,
            f"rule pack {pack.version(usable)}: {builtin} rules"
            + (f" and {custom} custom rules" if custom else "")
            + (f"; families switched off: {', '.join(off)}" if off else ""),
        )
        findings: list[AnalyzerFinding] = []
        gaps: list[Gap] = []
        files = list(context.files)
        total = len(files)
        context.progress(0, total)
        if usable and files:
            wanted = set(files)
            chosen_total = 0
            with tempfile.TemporaryDirectory(prefix="semgrep-home-") as home:
                # The pack's files in one file each for its two runs (see combined_rule_file).
                everywhere = own_files[:]
                if other_rules:
                    everywhere.insert(
                        0, pack.combined_rule_file(other_rules, Path(home) / "pack.yaml")
                    )
                request_config = (
                    [pack.combined_rule_file(request_rules, Path(home) / "pack-request.yaml")]
                    if request_rules
                    else []
                )
                for start in range(0, total, BATCH_FILES):
                    batch = files[start : start + BATCH_FILES]
                    outputs = []
                    if everywhere:
                        outputs.append(self._scan(context, everywhere, batch, home))
                    if request_config:  # read the files only when those rules are on
                        chosen = [n for n in batch if self._may_hold_request_data(context, n)]
                        chosen_total += len(chosen)
                        if chosen:
                            outputs.append(self._scan(context, request_config, chosen, home))
                    lines_of: dict[str, list[str]] = {}
                    for output in outputs:
                        for item in output.get("results", []):
                            finding = self._finding(context.root, item, known, lines_of)
                            if finding is not None and finding.path in wanted:
                                findings.append(finding)
                        for error in output.get("errors", []):
                            told = _error_gap(error, wanted)
                            if told is not None and told[1].path not in {g.path for g in gaps}:
                                errors.append(told[0])
                                gaps.append(told[1])
                    context.progress(min(total, start + len(batch)), total)
            if request_rules:
                notes.append(
                    f"request-data rules on {chosen_total} of {total} files "
                    "(the others name no request data)"
                )
        findings = _without_shadowed(findings, known)
        findings.sort(key=lambda f: (f.path, f.start_line or 0, f.rule_id, f.message))
        reported = sorted({f.rule_id for f in findings})
        rules: list[Rule] = [known[rule_id].to_rule() for rule_id in reported if rule_id in known]
        return AnalyzerResult(
            tool=self.name,
            tool_version=self.tool_version(),
            rules=rules,
            findings=findings,
            errors=errors,
            notes=notes,
            files_analyzed=total - len({gap.path for gap in gaps}),
            gaps=gaps,
        )

    @staticmethod
    def _may_hold_request_data(context: AnalyzerContext, name: str) -> bool:
        content = _read_bytes(context.root, name)
        return content is None or pack.may_hold_request_data(name, content)

    def _scan(
        self, context: AnalyzerContext, rule_files: Sequence[Path], batch: list[str], home: str
    ) -> dict[str, Any]:
        command = [
            _semgrep_command(),
            "scan",
            # Semgrep's own command line written in OCaml (osemgrep, in the same wheel), not
            # the Python one: the same findings from the same rules, without the Python
            # side's 3 s start-up and its work per target — on the Django tree 2.6 s against
            # 7.7 s for the non-taint rules (docs/benchmarks.md).
            "--experimental",
            "--json",
            "--quiet",
            "--metrics=off",
            "--disable-version-check",
            "--no-rewrite-rule-ids",
            "--no-git-ignore",
            "--max-target-bytes=0",
            f"--timeout={RULE_TIMEOUT_S}",
            "--timeout-threshold=3",
            # One process: semgrep's own workers each read every rule again, which on two
            # cores cost twice the CPU for no gain in time (docs/benchmarks.md); the other
            # analyzers run beside it anyway.
            "--jobs=1",
        ]
        for path in rule_files:
            command += ["--config", str(path)]
        # "./" keeps a file named like an option from being read as one.
        command += ["--", *(f"./{name}" for name in batch)]
        context.log(f"semgrep on {len(batch)} files with {len(rule_files)} rule files")
        proc = subprocess.run(
            command,
            cwd=context.root,
            env=_semgrep_env(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            preexec_fn=_lower_stack_limit,  # the child runs no other threads meanwhile
            check=False,
        )
        try:
            output = json.loads(proc.stdout)
        except ValueError:
            tail = proc.stderr.decode("utf-8", "replace")[-2000:]
            sys.stderr.write(tail)
            raise RuntimeError(f"semgrep exited with {proc.returncode} without a result") from None
        if not isinstance(output, dict):
            raise RuntimeError("semgrep gave an output of an unknown form")
        fatal = [
            e for e in output.get("errors", []) if not e.get("path") and e.get("level") == "error"
        ]
        if fatal and not output.get("results"):
            sys.stderr.write(json.dumps(fatal)[-4000:])
            raise RuntimeError("semgrep failed on its rules or its engine")
        return output

    @staticmethod
    def _finding(
        root: Path,
        item: dict[str, Any],
        known: dict[str, pack.PackRule],
        lines_of: dict[str, list[str]],
    ) -> AnalyzerFinding | None:
        rule_id = str(item.get("check_id", ""))
        rule = known.get(rule_id)
        if rule is None:
            return None
        path = str(item.get("path", "")).removeprefix("./")
        start = int(item.get("start", {}).get("line") or 1)
        end = int(item.get("end", {}).get("line") or start)
        if path not in lines_of:
            lines_of[path] = _read_lines(root, path)
        extra = item.get("extra", {})
        message = " ".join(str(extra.get("message") or rule.message).split())
        properties: dict[str, Any] = {
            "cwe": list(rule.cwe),
            "family": rule.family,
            "title": rule.title,
            "help": rule.help,
        }
        if rule.from_request:
            properties["source"] = "request data"
        return AnalyzerFinding(
            rule_id=rule.id,
            severity=rule.severity,
            confidence=rule.confidence,
            path=path,
            start_line=start,
            end_line=end,
            message=message,
            snippet=_snippet(lines_of[path], start, end),
            properties=properties,
        )


def _without_shadowed(
    findings: list[AnalyzerFinding], known: dict[str, pack.PackRule]
) -> list[AnalyzerFinding]:
    """``findings`` without those of a family's general rules on a line where one of its
    request-data rules reports the same flaw with more certainty (a shell command built from
    request data is reported once, as that)."""
    tainted = {
        (known[f.rule_id].family, f.path, f.start_line)
        for f in findings
        if f.rule_id in known and known[f.rule_id].from_request
    }
    return [
        f
        for f in findings
        if f.rule_id not in known
        or known[f.rule_id].from_request
        or known[f.rule_id].family == pack.CUSTOM_FAMILY
        or (known[f.rule_id].family, f.path, f.start_line) not in tainted
    ]
