"""The ``checkov`` analyzer on real infrastructure code: Terraform, CloudFormation, a Kubernetes
manifest, a Dockerfile and a GitHub Actions workflow, each with findings and a clean variant;
Helm chart templates reported as not checked; no process at all for a tree without
infrastructure code; Checkov's failure as a visible analyzer failure; the severity table in
docs/analyzers.md equal to the mapping."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from scanpulse.analyzers.base import AnalyzerResult
from scanpulse.analyzers.checkov import CheckovAnalyzer
from scanpulse.analyzers.checkov.analyzer import checkov_command, infrastructure_files
from scanpulse.analyzers.checkov.severity import FAMILIES, HARDENING, family_of
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import AnalyzerFailure
from scanpulse.pipeline.fingerprints import assign_fingerprints

FIXTURES = Path(__file__).parent / "iac"
DOCS = Path(__file__).parents[2] / "docs" / "analyzers.md"

# What each vulnerable fixture must report: (check, first line, severity) — a subset of
# Checkov's findings, chosen for the problems the fixtures were written with.
EXPECTED = {
    "terraform": {
        ("CKV_AWS_24", 1, "high"),  # SSH from 0.0.0.0/0
        ("CKV_AWS_17", 14, "high"),  # publicly accessible database
        ("CKV_AWS_16", 14, "medium"),  # storage not encrypted
    },
    "cloudformation": {
        ("CKV_AWS_20", 4, "high"),  # bucket readable by everyone
        ("CKV_AWS_57", 4, "high"),  # bucket writable by everyone
        ("CKV_AWS_27", 9, "medium"),  # queue not encrypted
    },
    "kubernetes": {
        ("CKV_K8S_16", 1, "high"),  # privileged container
        ("CKV_K8S_19", 1, "high"),  # host network
        ("CKV_K8S_14", 1, "medium"),  # image tag latest
    },
    "dockerfile": {
        ("CKV_DOCKER_7", 1, "medium"),  # FROM …:latest
        ("CKV_DOCKER_4", 2, "medium"),  # ADD of a remote file
        ("CKV_DOCKER_3", 1, "medium"),  # no USER
    },
    "github_actions": {
        ("CKV_GHA_2", 14, "high"),  # shell injection from the pull request title
        ("CKV2_GHA_1", 8, "high"),  # permissions: write-all
    },
}


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _command() -> str:
    command = checkov_command()
    assert command is not None, "Checkov is not installed: run `make tools`"
    return command


@pytest.fixture(scope="module")
def result() -> AnalyzerResult:
    """One Checkov run over every fixture, vulnerable and clean, in the isolated child."""
    found = run_analyzer(
        CheckovAnalyzer,
        root=FIXTURES,
        files=_files(FIXTURES),
        options={"executable": _command()},
    )
    assert not isinstance(found, AnalyzerFailure), found.errors
    return found


@pytest.mark.parametrize("framework", sorted(EXPECTED))
def test_findings_on_each_kind_of_infrastructure_code(
    result: AnalyzerResult, framework: str
) -> None:
    vulnerable = [f for f in result.findings if f.path.startswith(f"{framework}/vulnerable/")]
    reported = {(f.rule_id, f.start_line, f.severity) for f in vulnerable}
    assert EXPECTED[framework] <= reported
    for finding in vulnerable:
        assert finding.end_line is not None and finding.end_line >= (finding.start_line or 0)
        assert finding.properties["framework"] == framework
        assert finding.properties["help_uri"].startswith("https://www.checkov.io/")
        assert finding.message.startswith(finding.properties["title"])
        assert finding.snippet
    # the clean variant of the same code has none
    assert [f for f in result.findings if f.path.startswith(f"{framework}/clean/")] == []


def test_findings_carry_cwe_rules_and_help(result: AnalyzerResult) -> None:
    by_id = {f.rule_id: f for f in result.findings}
    assert by_id["CKV_AWS_24"].properties["cwe"] == ["CWE-284"]
    assert by_id["CKV_GHA_2"].properties["cwe"] == ["CWE-78"]
    assert by_id["CKV_K8S_16"].properties["cwe"] == ["CWE-250"]
    assert by_id["CKV_AWS_16"].properties["cwe"] == ["CWE-311"]
    rules = {rule.id: rule for rule in result.rules}
    assert set(rules) == set(by_id)
    assert rules["CKV_AWS_24"].default_severity == "high"
    assert rules["CKV_AWS_24"].help_uri == "https://www.checkov.io/5.Policy%20Index/terraform.html"
    assert "CWE-284" in rules["CKV_AWS_24"].tags
    # graph checks (across resources) are medium confidence, resource checks high
    assert by_id["CKV2_GHA_1"].confidence == "medium"
    assert by_id["CKV_AWS_24"].confidence == "high"
    assert result.tool == "checkov" and re.fullmatch(r"\d+\.\d+\.\d+", result.tool_version)


def test_helm_templates_are_reported_as_not_checked(result: AnalyzerResult) -> None:
    template = "helm/vulnerable/chart/templates/pod.yaml"
    assert [(g.path, g.kind) for g in result.gaps] == [(template, "skipped")]
    assert f"{template}: Helm chart template: not rendered, so not checked" in result.errors
    assert not any(f.path.startswith("helm/") for f in result.findings)


def test_fingerprints_stay_when_other_lines_of_a_block_change(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "terraform" / "vulnerable", root)

    def scan() -> dict[str, str]:
        found = run_analyzer(
            CheckovAnalyzer, root=root, files=["main.tf"], options={"executable": _command()}
        )
        prints = assign_fingerprints(found.tool, found.findings)
        return {f.rule_id: p for f, p in zip(found.findings, prints, strict=True)}

    before = scan()
    text = (root / "main.tf").read_text()
    (root / "main.tf").write_text(
        "# the application's database\n" + text.replace('"db.t3.micro"', '"db.t3.small"')
    )
    after = scan()
    assert before == after and "CKV_AWS_17" in before


def test_a_tree_without_infrastructure_code_starts_no_process(tmp_path: Path) -> None:
    # given: Python code and YAML that is neither CloudFormation nor Kubernetes, and an
    # executable that would fail if it were started
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text("print('hello')\n")
    (root / "mkdocs.yml").write_text("site_name: Example\nnav:\n  - index.md\n")
    (root / "data.json").write_text('{"kind": "fruit", "name": "apple"}\n')
    assert infrastructure_files(root, _files(root)) == ([], [])

    # when
    started = time.monotonic()
    found = run_analyzer(
        CheckovAnalyzer,
        root=root,
        files=_files(root),
        options={"executable": str(tmp_path / "no-such-checkov")},
    )

    # then: a result at once, saying why nothing was checked
    assert time.monotonic() - started < 2
    assert not isinstance(found, AnalyzerFailure)
    assert found.findings == [] and found.gaps == [] and found.files_analyzed == 0
    assert found.notes[0].startswith("no infrastructure code")


def test_infrastructure_files_by_name_and_by_content(tmp_path: Path) -> None:
    files = {
        "infra/main.tf": 'resource "x" "y" {}\n',
        "deploy/Dockerfile.prod": "FROM scratch\n",
        ".github/workflows/ci.yml": "on: push\n",
        "k8s/app.yaml": "apiVersion: v1\nkind: Service\n",
        "cfn/stack.json": '{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}\n',
        "config/settings.yaml": "debug: false\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    chosen, gaps = infrastructure_files(tmp_path, sorted(files))
    assert sorted(chosen) == sorted(set(files) - {"config/settings.yaml"})
    assert gaps == []


def test_a_failing_checkov_is_a_visible_failure(tmp_path: Path) -> None:
    broken = tmp_path / "checkov"
    broken.write_text("#!/bin/sh\necho 'checkov: something went wrong' >&2\nexit 2\n")
    broken.chmod(0o755)
    logs: list[str] = []
    from scanpulse.analyzers.runs import Callbacks

    found = run_analyzer(
        CheckovAnalyzer,
        root=FIXTURES / "dockerfile" / "vulnerable",
        files=["Dockerfile"],
        options={"executable": str(broken)},
        callbacks=Callbacks(on_log=logs.append),
    )
    assert isinstance(found, AnalyzerFailure)
    assert found.errors == ["analyzer checkov crashed (unhandled RuntimeError)"]
    assert any("checkov: something went wrong" in line for line in logs)


def test_the_cache_key_holds_checkov_version() -> None:
    analyzer = CheckovAnalyzer()
    key = analyzer.config_key({"executable": _command()})
    assert key.endswith(f"-checkov-{analyzer.tool_version()}")


def test_checkov_runs_without_network_or_platform_settings() -> None:
    from scanpulse.analyzers.checkov.analyzer import checkov_env

    env = checkov_env("/tmp/x")
    assert env["BC_SKIP_MAPPING"] == "TRUE"
    assert env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    assert not any(key in env for key in ("BC_API_KEY", "PRISMA_API_URL", "GITHUB_PAT"))
    assert set(env) & set(os.environ) <= {"PATH", "HOME", "LANG", "TMPDIR", "LOG_LEVEL"} | set(env)


def test_the_documented_severity_table_is_the_mapping() -> None:
    text = DOCS.read_text()
    for family in (*FAMILIES, HARDENING):
        row = re.search(rf"^\| `{re.escape(family.name)}` \| (\w+) \| ([^|]*) \|", text, re.M)
        assert row is not None, family.name
        assert row[1] == family.severity
        assert row[2].strip() == (", ".join(family.cwe) or "—")
    assert family_of("CKV_AWS_24", "anything").name == "public-exposure"
    assert family_of("CKV_X_1", "Ensure all data is encrypted").name == "encryption"
    assert family_of("CKV_X_1", "Something else entirely").name == "hardening"
