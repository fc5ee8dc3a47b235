"""Noise control without a database: globs, parsing the repository's configuration, and what
its rules keep, checked against a filter written here independently of the pipeline's."""

from __future__ import annotations

import fnmatch
import hashlib
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.analyzers.base import SEVERITIES, AnalyzerFinding, AnalyzerResult
from scanpulse.analyzers.redaction import identify
from scanpulse.pipeline.globs import GlobError, compile_glob
from scanpulse.pipeline.noise import (
    NoiseConfig,
    apply_noise_config,
    read_noise_config,
    select_files,
)
from scanpulse.pipeline.repo_config import RepoConfigError, parse_rules

ANALYZERS = ("bandit", "secrets", "dependencies")

# -- the independent filter ------------------------------------------------------------------


def brute_matches(pattern: str, path: str) -> bool:
    """The documented meaning, by segments: '**' is zero or more whole segments, other
    segments are fnmatch patterns of one segment, and matching a leading part of the path
    (a directory) matches the path."""
    globs = pattern.rstrip("/").split("/")
    parts = path.split("/")

    def match(g: list[str], p: list[str]) -> bool:
        if not g:
            return True  # the glob matched a leading part: everything under it
        if g[0] == "**":
            return any(match(g[1:], p[skip:]) for skip in range(len(p) + 1))
        return bool(p) and fnmatch.fnmatchcase(p[0], g[0]) and match(g[1:], p[1:])

    # A '**' at the end may match no segment, so "a/**" matches "a" itself, like "a" does.
    return match(globs, parts) and (globs != ["**"] or bool(parts))


def brute_kept(findings, exclude, disable, per_path):
    return [
        f
        for f in findings
        if not any(brute_matches(g, f.path) for g in exclude)
        and f.rule_id not in disable
        and not any(f.rule_id in rules and brute_matches(g, f.path) for g, rules in per_path)
    ]


# -- strategies ------------------------------------------------------------------------------

SEGMENTS = ("a", "b", "ab", "tests", "t.py", ".hidden")
segment = st.sampled_from(SEGMENTS)
path = st.lists(segment, min_size=1, max_size=5).map("/".join)
glob_segment = st.sampled_from(
    ("a", "b", "tests", "*", "?", "a*", "*.py", "**", "t.*", ".*", "*a*b*", "*t*s*?")
)
glob = st.lists(glob_segment, min_size=1, max_size=4).map("/".join)
rule = st.sampled_from(("B101", "B105", "B602", "aws-access-key"))


def finding(path: str, rule_id: str) -> AnalyzerFinding:
    return AnalyzerFinding(rule_id, "low", "high", path, 1, 1, "m")


def toml_list(items) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


@settings(max_examples=300, deadline=None)
@given(
    findings=st.lists(st.tuples(path, rule), max_size=30),
    exclude=st.lists(glob, max_size=3),
    disable=st.lists(rule, max_size=2),
    per_path=st.dictionaries(glob, st.lists(rule, min_size=1, max_size=2), max_size=3),
)
def test_the_findings_kept_are_exactly_those_no_rule_matches(
    findings, exclude, disable, per_path
) -> None:
    text = f"exclude = {toml_list(exclude)}\ndisable = {toml_list(disable)}\n"
    text += "[per-path-disable]\n" + "".join(
        f'"{g}" = {toml_list(rules)}\n' for g, rules in per_path.items()
    )
    config = NoiseConfig(".scanpulse.toml", parse_rules(text, file="t", analyzers=ANALYZERS))
    found = [finding(p, r) for p, r in findings]
    result = AnalyzerResult(tool="bandit", tool_version="1", findings=list(found))

    kept, removed = apply_noise_config(config, "bandit", result)

    expected = brute_kept(found, exclude, set(disable), list(per_path.items()))
    assert kept.findings == expected
    assert sum(removed.values()) == len(found) - len(expected)
    files, excluded = select_files(config, [p for p, _ in findings])
    assert files == [p for p, _ in findings if not any(brute_matches(g, p) for g in exclude)]
    assert sum(excluded.values()) == len(findings) - len(files)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("tests/**", "tests/a/test_x.py", True),
        ("tests", "tests/test_x.py", True),
        ("tests/", "tests/test_x.py", True),
        ("tests", "src/tests/test_x.py", False),
        ("**/tests", "src/tests/test_x.py", True),
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),
        ("**/*.py", "src/a/b.py", True),
        ("src/**/migrations", "src/migrations/0001.py", True),
        ("src/*/x.py", "src/a/b/x.py", False),
    ],
)
def test_globs_mean_what_the_documentation_says(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).matches(path) is matches
    assert brute_matches(pattern, path) is matches


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "may not be empty"),
        ("/src", "drop the leading '/'"),
        ("a/../b", "'..'"),
        ("a//b", "an empty segment"),
        ("a**", "whole path segment"),
        ("src\\a", "not '\\'"),
        ("[ab].py", "character classes"),
    ],
)
def test_bad_globs_are_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(GlobError, match=None) as caught:
        compile_glob(pattern)
    assert reason in str(caught.value)


def test_globs_from_a_hostile_repository_match_in_bounded_time() -> None:
    # Backtracking matchers take exponential time on these; the path is long and never matches.
    path = "/".join(["a"] * 200) + "/x"
    many_any = compile_glob("/".join(["**", "a"] * 100) + "/z")
    many_stars = compile_glob("**/" + "*a" * 200 + "*b")
    started = time.monotonic()
    assert not many_any.matches(path)
    assert not many_stars.matches("a" * 250)
    assert not many_stars.matches(path.replace("/", "") + "/" + "a" * 250)
    assert time.monotonic() - started < 2


# -- what a broken file says -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('exclude = ["docs/**"\n', ".scanpulse.toml:1: not valid TOML"),
        ('disable = ["B101"]\nexclude = "docs"\n', ".scanpulse.toml:2: exclude: expected a list"),
        ("\n\nexcludes = []\n", ".scanpulse.toml:3: excludes: unknown key"),
        (
            'exclude = [\n  "docs",\n  "/build",\n]\n',
            ".scanpulse.toml:3: exclude: bad glob '/build'",
        ),
        ('[severity]\nB101 = "urgent"\n', ".scanpulse.toml:2: severity.B101: 'urgent' is not"),
        (
            "[analyzers]\nsemgrep = false\n",
            ".scanpulse.toml:2: analyzers.semgrep: unknown analyzer",
        ),
        (
            "[analyzers]\nbandit = 0\n",
            ".scanpulse.toml:2: analyzers.bandit: expected true or false",
        ),
        (
            '[per-path-disable]\n"tests/**" = "B101"\n',
            '.scanpulse.toml:2: per-path-disable."tests/**"',
        ),
    ],
)
def test_a_broken_file_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".scanpulse.toml").write_text(text)
    with pytest.raises(RepoConfigError) as caught:
        read_noise_config(tmp_path, analyzers=ANALYZERS)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_broken_tool_scanpulse_table_names_its_full_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.scanpulse]\nexclude = ["docs"]\ndisable = [101]\n'
    )
    with pytest.raises(RepoConfigError) as caught:
        read_noise_config(tmp_path, analyzers=ANALYZERS)
    assert str(caught.value).startswith("pyproject.toml:6: tool.scanpulse.disable: expected")


def test_a_symlinked_config_is_an_error_not_followed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.toml").write_text("disable = []\n")
    (tmp_path / ".scanpulse.toml").symlink_to(tmp_path / "elsewhere.toml")
    with pytest.raises(RepoConfigError, match="not a regular file"):
        read_noise_config(tmp_path, analyzers=ANALYZERS)


# -- which configuration applies -------------------------------------------------------------


def test_the_repository_file_wins_and_the_log_says_which(tmp_path: Path) -> None:
    defaults = 'disable = ["B602"]\n'
    none = read_noise_config(tmp_path, analyzers=ANALYZERS)
    assert none.source == "none" and none.messages[0] == "Configuration: none."
    project = read_noise_config(tmp_path, defaults=defaults, analyzers=ANALYZERS)
    assert project.messages[0] == "Configuration: project defaults."
    assert project.rules.disable == {"B602"}

    (tmp_path / "pyproject.toml").write_text('[tool.scanpulse]\ndisable = ["B404"]\n')
    from_pyproject = read_noise_config(tmp_path, defaults=defaults, analyzers=ANALYZERS)
    assert from_pyproject.messages[0] == "Configuration: pyproject.toml [tool.scanpulse]."
    assert from_pyproject.rules.disable == {"B404"}

    (tmp_path / ".scanpulse.toml").write_text('disable = ["B101"]\n')
    own = read_noise_config(tmp_path, defaults=defaults, analyzers=ANALYZERS)
    assert own.messages[:2] == (
        "Configuration: .scanpulse.toml.",
        ".scanpulse.toml wins over [tool.scanpulse] in pyproject.toml, which is not used.",
    )
    assert own.rules.disable == {"B101"}


# -- the tools' own configuration ------------------------------------------------------------


def test_bandit_skips_tests_and_excludes_from_both_of_its_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bandit]\nskips = ["B101"]\nexclude_dirs = ["build"]\n'
    )
    (tmp_path / ".bandit").write_text("[bandit]\nskips = B404\nexclude = ./tests/\n")
    config = read_noise_config(tmp_path, analyzers=ANALYZERS)
    found = [
        finding("app.py", "B101"),
        finding("app.py", "B404"),
        finding("app.py", "B602"),
        finding("tests/t.py", "B602"),
        finding("build/x.py", "B602"),
    ]
    result = AnalyzerResult(tool="bandit", tool_version="1", findings=found)
    kept, removed = apply_noise_config(config, "bandit", result)
    assert [(f.path, f.rule_id) for f in kept.findings] == [("app.py", "B602")]
    assert sum(removed.values()) == 4
    # other analyzers' findings are not Bandit's business
    other = AnalyzerResult(
        tool="secrets", tool_version="1", findings=[finding("tests/t.py", "B404")]
    )
    assert apply_noise_config(config, "secrets", other)[0].findings == other.findings


def test_audited_false_positives_of_a_secrets_baseline_are_marked_dismissed(tmp_path: Path) -> None:
    key = b"k" * 32
    sha1 = hashlib.sha1(b"AKIAIOSFODNN7EXAMPLE").hexdigest()  # noqa: S324
    other = hashlib.sha1(b"hunter2").hexdigest()  # noqa: S324
    (tmp_path / ".secrets.baseline").write_text(
        '{"version": "1.5.0", "results": {"app.py": ['
        f'{{"type": "AWS Access Key", "hashed_secret": "{sha1}", "is_secret": false, "line_number": 3}},'
        f'{{"type": "Secret Keyword", "hashed_secret": "{other}", "line_number": 4}}'
        "]}}"
    )
    config = read_noise_config(tmp_path, analyzers=ANALYZERS)

    def secret(kind: str, rule_id: str, hashed: str, line: int) -> AnalyzerFinding:
        raw = AnalyzerFinding(
            rule_id, "high", "high", "app.py", line, line, "m", hashed, {"secret_type": kind}
        )
        return identify(raw, key)

    found = [
        secret("AWS Access Key", "aws-access-key", sha1, 3),
        secret("Secret Keyword", "secret-keyword", other, 4),
    ]
    result = AnalyzerResult(tool="secrets", tool_version="1", findings=found)
    kept, counts = apply_noise_config(config, "secrets", result, key=key)
    assert kept.findings[0].properties["dismissed_reason"] == "false_positive"
    assert kept.findings[0].properties["dismissed_by"] == ".secrets.baseline"
    assert "dismissed_reason" not in kept.findings[1].properties  # not audited as false
    assert dict(counts) == {".secrets.baseline false positives (dismissed)": 1}


def test_severity_overrides_keep_the_original(tmp_path: Path) -> None:
    rules = parse_rules('[severity]\nB602 = "critical"\n', file="t", analyzers=ANALYZERS)
    assert set(rules.severity.values()) <= set(SEVERITIES)
    result = AnalyzerResult(tool="bandit", tool_version="1", findings=[finding("a.py", "B602")])
    kept, _ = apply_noise_config(NoiseConfig("t", rules), "bandit", result)
    assert kept.findings[0].severity == "critical"
    assert kept.findings[0].properties["original_severity"] == "low"


def test_broken_tool_configs_fail_too_and_echo_no_control_characters(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bandit]\nskips = ["B101"]\nexclude_dirs = ["", "x"]\n'
    )
    with pytest.raises(RepoConfigError) as caught:
        read_noise_config(tmp_path, analyzers=ANALYZERS)
    assert (
        str(caught.value)
        == "pyproject.toml:3: tool.bandit.exclude_dirs: '' is not a test id or path"
    )
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / ".bandit").write_text("[bandit]\nskips = B101\n[bandit]\n")
    with pytest.raises(RepoConfigError, match=r"^\.bandit:3: not a valid INI file"):
        read_noise_config(tmp_path, analyzers=ANALYZERS)
    (tmp_path / ".bandit").unlink()
    (tmp_path / ".secrets.baseline").write_text('{"results": {\n"a": 1\n')
    with pytest.raises(RepoConfigError, match=r"^\.secrets\.baseline:3: not valid JSON"):
        read_noise_config(tmp_path, analyzers=ANALYZERS)
    (tmp_path / ".secrets.baseline").unlink()
    (tmp_path / ".scanpulse.toml").write_text('[analyzers]\n"x\\u001b[2J" = true\n')
    with pytest.raises(RepoConfigError) as caught:
        read_noise_config(tmp_path, analyzers=ANALYZERS)
    assert "\x1b" not in str(caught.value)
    assert str(caught.value).startswith('.scanpulse.toml:2: analyzers."x\\u001b[2J": unknown')
