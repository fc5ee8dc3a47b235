"""The ``checkov`` analyzer: infrastructure as code (Terraform, CloudFormation, Kubernetes
manifests, Dockerfiles, GitHub Actions workflows) checked by Checkov, offline, in the child.

Checkov pins dependencies that conflict with scanpulse's own (cyclonedx-python-lib, packaging,
packageurl-python), so it is an isolated tool with its own virtualenv: the executable is
the analyzer option ``executable`` (setting ``SCANPULSE_CHECKOV``), else the environment's
``SCANPULSE_CHECKOV``, else ``tools/checkov/bin/checkov`` inside this virtualenv (what
``make`` installs), else ``checkov`` on ``PATH``.

It runs with the selected files named one by one (``--file``), the frameworks listed, no
platform download (``--skip-download``, ``BC_SKIP_MAPPING``), no update check
(``CKV_SKIP_PACKAGE_UPDATE_CHECK``), no external Terraform modules, and no API key: nothing
leaves the machine. Files whose content is not infrastructure code are not given to it, and
when no such file is left the analyzer reports so without starting Checkov at all.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
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
from scanpulse.analyzers.checkov.severity import confidence_of, family_of

# Bump when this module's own logic changes what it reports.
_ANALYZER_REVISION = "1"
FRAMEWORKS = ("terraform", "cloudformation", "kubernetes", "dockerfile", "github_actions")
# Files per Checkov run: bounds the command line. Terraform modules are directories, so a
# batch never splits one directory's files.
BATCH_FILES = 400
SNIPPET_MAX_LINES = 5
# How much of a YAML or JSON file is read to tell infrastructure code from other data.
SNIFF_BYTES = 256 * 1024
POLICY_INDEX = "https://www.checkov.io/5.Policy%20Index/{framework}.html"

_YAML_JSON = (".yaml", ".yml", ".json", ".template")
_CLOUDFORMATION = re.compile(rb"AWSTemplateFormatVersion|\bAWS::[A-Za-z0-9]+::")
_K8S_API = re.compile(rb"^\s*\"?apiVersion\"?\s*:", re.MULTILINE)
_K8S_KIND = re.compile(rb"^\s*\"?kind\"?\s*:", re.MULTILINE)
_TEMPLATE = re.compile(rb"\{\{")


def _is_dockerfile(name: str) -> bool:
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def _is_workflow(path: str) -> bool:
    return "/.github/workflows/" in f"/{path}" and path.endswith((".yml", ".yaml"))


def checkov_command(options: dict[str, Any] | None = None) -> str | None:
    """The Checkov executable to run, or None when none is installed."""
    configured = (options or {}).get("executable") or os.environ.get("SCANPULSE_CHECKOV")
    if configured:
        return str(configured)
    bundled = Path(sys.prefix) / "tools" / "checkov" / "bin" / "checkov"
    if bundled.exists():
        return str(bundled)
    return shutil.which("checkov")


def checkov_env(home: str) -> dict[str, str]:
    """Checkov's environment: nothing of the worker's but PATH, everything online turned off."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # No platform mappings or guidelines, no PyPI version check at import, no module
        # downloads, no upload of anything.
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "CKV_GITHUB_CONFIG_FETCH_DATA": "false",
        "CKV_GITLAB_CONFIG_FETCH_DATA": "false",
        "BC_ENABLE_PERSIST_GRAPHS": "false",
        "CKV_IGNORE_HIDDEN_DIRECTORIES": "false",
        "LOG_LEVEL": "ERROR",
    }


@functools.lru_cache(maxsize=8)
def _version_of(command: str, mtime: float) -> str:
    """The installed Checkov's version: from its distribution metadata beside the executable
    (instant), else from ``checkov --version`` (several seconds: it imports every check)."""
    prefix = Path(command).resolve().parent.parent
    for info in sorted(prefix.glob("lib/python3*/site-packages/checkov-*.dist-info")):
        match = re.match(r"checkov-(.+)\.dist-info$", info.name)
        if match:
            return match[1]
    with tempfile.TemporaryDirectory(prefix="checkov-home-") as home:
        proc = subprocess.run(
            [command, "--version"],
            env=checkov_env(home),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
    return proc.stdout.decode("utf-8", "replace").strip() or "unknown"


def tool_version(options: dict[str, Any] | None = None) -> str:
    command = checkov_command(options)
    if command is None:
        return "not installed"
    try:
        mtime = os.stat(command).st_mtime
    except OSError:
        return "not installed"
    return _version_of(command, mtime)


def _read_head(root: Path, path: str, size: int) -> bytes:
    try:
        fd = os.open(root / path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _chart_of(root: Path, path: str) -> str | None:
    """The Helm chart directory a file under a chart's ``templates/`` belongs to, if any."""
    parts = path.split("/")[:-1]
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == "templates":
            chart = "/".join(parts[:index])
            if (root / chart / "Chart.yaml").is_file():
                return chart
    return None


def infrastructure_files(root: Path, files: Sequence[str]) -> tuple[list[str], list[Gap]]:
    """The files Checkov is given (infrastructure code by name or by content), and the Helm
    chart templates that cannot be checked without rendering them (gaps)."""
    chosen: list[str] = []
    gaps: list[Gap] = []
    for path in files:
        name = path.rsplit("/", 1)[-1]
        if path.endswith(".tf") or _is_dockerfile(name) or _is_workflow(path):
            chosen.append(path)
            continue
        if not path.endswith(_YAML_JSON):
            continue
        head = _read_head(root, path, SNIFF_BYTES)
        is_iac = bool(_CLOUDFORMATION.search(head)) or bool(
            _K8S_API.search(head) and _K8S_KIND.search(head)
        )
        if not is_iac:
            continue
        if _TEMPLATE.search(head) and _chart_of(root, path) is not None:
            gaps.append(Gap(path, "skipped", "Helm chart template: not rendered, so not checked"))
            continue
        chosen.append(path)
    return chosen, gaps


def _snippet(lines: list[str], start: int, end: int) -> str:
    last = min(end, start + SNIPPET_MAX_LINES - 1)
    return "\n".join(lines[n - 1].strip() for n in range(start, last + 1) if 0 < n <= len(lines))


def _read_lines(root: Path, path: str) -> list[str]:
    text = _read_head(root, path, 64 * 1024 * 1024).decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _batches(files: list[str]) -> list[list[str]]:
    """Batches of at most BATCH_FILES files that keep each directory's files together."""
    by_dir: dict[str, list[str]] = {}
    for path in files:
        by_dir.setdefault(path.rpartition("/")[0], []).append(path)
    batches: list[list[str]] = [[]]
    for group in by_dir.values():
        if batches[-1] and len(batches[-1]) + len(group) > BATCH_FILES:
            batches.append([])
        batches[-1].extend(group)
    return [batch for batch in batches if batch]


class CheckovAnalyzer(Analyzer):
    """Checkov's built-in checks on the repository's infrastructure code. Terraform modules and
    Kubernetes graph checks span files, so a run sees all selected files together."""

    name: ClassVar[str] = "checkov"
    step: ClassVar[str] = "Checking infrastructure code"
    per_file: ClassVar[bool] = False
    skip_when_empty: ClassVar[bool] = True

    def tool_version(self) -> str:
        return tool_version()

    def config_key(self, options: dict[str, Any]) -> str:
        return f"analyzer-{_ANALYZER_REVISION}-checkov-{tool_version(options)}"

    def selects(self, path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return path.endswith((".tf", *_YAML_JSON)) or _is_dockerfile(name)

    def narrow(self, root: Path, files: list[str]) -> list[str]:
        chosen, gaps = infrastructure_files(root, files)
        return chosen + [gap.path for gap in gaps]

    def nothing_to_do(self) -> AnalyzerResult:
        return AnalyzerResult(
            tool=self.name,
            tool_version=self.tool_version(),
            notes=[
                "no infrastructure code (Terraform, CloudFormation, Kubernetes, Dockerfile, "
                "GitHub Actions workflow) found: Checkov was not run"
            ],
        )

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        command = checkov_command(context.options)
        if command is None or not os.path.exists(command):
            raise RuntimeError(
                "Checkov is not installed (make installs it; or set SCANPULSE_CHECKOV)"
            )
        files, gaps = infrastructure_files(context.root, context.files)
        version = tool_version(context.options)
        findings: list[AnalyzerFinding] = []
        rules: dict[str, Rule] = {}
        errors: list[str] = [f"{gap.path}: {gap.reason}" for gap in gaps]
        total = len(files)
        context.progress(0, total)
        done = 0
        with tempfile.TemporaryDirectory(prefix="checkov-home-") as home:
            for batch in _batches(files):
                reports = self._scan(command, context, batch, home)
                lines_of: dict[str, list[str]] = {}
                wanted = set(batch)
                for report in reports:
                    framework = str(report.get("check_type") or "")
                    results = report.get("results") or {}
                    for item in results.get("failed_checks") or []:
                        found = self._finding(context.root, framework, item, lines_of, rules)
                        if found is not None and found.path in wanted:
                            findings.append(found)
                    for broken in results.get("parsing_errors") or []:
                        path = str(broken).removeprefix(str(context.root)).lstrip("/")
                        if path in wanted and path not in {g.path for g in gaps}:
                            reason = "Checkov could not parse this file"
                            gaps.append(Gap(path, "skipped", reason))
                            errors.append(f"{path}: {reason}")
                done += len(batch)
                context.progress(done, total)
        findings.sort(key=lambda f: (f.path, f.start_line or 0, f.rule_id, f.message))
        return AnalyzerResult(
            tool=self.name,
            tool_version=version,
            rules=[rules[rule_id] for rule_id in sorted({f.rule_id for f in findings})],
            findings=findings,
            errors=errors,
            notes=[f"Checkov {version}: frameworks {', '.join(FRAMEWORKS)}"],
            files_analyzed=total - sum(1 for gap in gaps if gap.path in set(files)),
            gaps=gaps,
        )

    def _scan(
        self, command: str, context: AnalyzerContext, batch: list[str], home: str
    ) -> list[dict[str, Any]]:
        argv = [
            command,
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
            "--download-external-modules",
            "false",
            "--framework",
            *FRAMEWORKS,
        ]
        for path in batch:
            argv += ["--file", f"./{path}"]
        context.log(f"checkov on {len(batch)} files")
        proc = subprocess.run(
            argv,
            cwd=context.root,
            env=checkov_env(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        # 0: nothing failed; 1: checks failed. Anything else is Checkov itself failing.
        try:
            output = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            output = None
        if proc.returncode not in (0, 1) or output is None:
            sys.stderr.write(proc.stderr.decode("utf-8", "replace")[-2000:])
            raise RuntimeError(f"checkov exited with {proc.returncode} without a result")
        reports = output if isinstance(output, list) else [output]
        return [report for report in reports if isinstance(report, dict)]

    @staticmethod
    def _finding(
        root: Path,
        framework: str,
        item: dict[str, Any],
        lines_of: dict[str, list[str]],
        rules: dict[str, Rule],
    ) -> AnalyzerFinding | None:
        check_id = str(item.get("check_id") or "")
        path = str(item.get("repo_file_path") or item.get("file_path") or "")
        path = path.removeprefix("./").lstrip("/")
        if not check_id or not path:
            return None
        title = " ".join(str(item.get("check_name") or check_id).split())
        family = family_of(check_id, title)
        line_range = item.get("file_line_range") or [1, 1]
        start = max(1, int(line_range[0] or 1))
        end = max(start, int(line_range[-1] or start))
        guideline = str(item.get("guideline") or "") or POLICY_INDEX.format(
            framework=framework or "all"
        )
        resource = str(item.get("resource") or "")
        if path not in lines_of:
            lines_of[path] = _read_lines(root, path)
        # The fingerprint comes from the snippet: the resource's address and its first line
        # stay the same when other lines of the block change.
        first = _snippet(lines_of[path], start, start)
        snippet = f"{resource.rsplit('/', 1)[-1]}\n{first}" if resource else first
        if check_id not in rules:
            rules[check_id] = Rule(
                id=check_id,
                name=check_id,
                short_description=title,
                full_description=f"Checkov check {check_id} ({framework}): {title}",
                help_text=f"{title}. Family: {family.name}. See {guideline}",
                help_uri=guideline,
                default_severity=family.severity,
                tags=("security", "iac", framework, family.name, *family.cwe),
            )
        message = f"{title} ({resource})" if resource else title
        return AnalyzerFinding(
            rule_id=check_id,
            severity=family.severity,
            confidence=confidence_of(check_id),
            path=path,
            start_line=start,
            end_line=end,
            message=message,
            snippet=snippet,
            properties={
                "cwe": list(family.cwe),
                "family": family.name,
                "framework": framework,
                "title": title,
                "resource": resource,
                "help_uri": guideline,
            },
        )
