"""The rule pack: every rule passes its own test cases, carries what a finding needs, and the
``semgrep`` analyzer reports it offline in the isolated child, with families, custom rules and
the cache working as documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scanpulse.analyzers.base import AnalyzerResult
from scanpulse.analyzers.result_cache import MemoryResultCache
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import AnalyzerFailure, Callbacks
from scanpulse.analyzers.semgrep import SemgrepAnalyzer, pack
from scanpulse.pipeline.repo_config import RepoConfigError, parse_rules
from scanpulse.pipeline.rule_pack import rule_pack_options

SEMGREP = str(Path(sys.executable).parent / "semgrep")
OFFLINE = {"SEMGREP_SEND_METRICS": "off", "SEMGREP_ENABLE_VERSION_CHECK": "0"}

FLASK_APP = """\
import sqlite3

from flask import Flask, redirect, request

app = Flask(__name__)


@app.route("/users")
def users():
    name = request.args.get("name")
    cursor = sqlite3.connect("app.db").cursor()
    cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
    cursor.execute("SELECT * FROM users WHERE name = ?", (name,))
    return redirect(request.args["next"])
"""

SETTINGS = """\
DEBUG = True
ALLOWED_HOSTS = ["*"]
"""

TEMPLATE = """\
<p>{{ comment.body|safe }}</p>
<p>{{ comment.author }}</p>
"""

BROWSER_JS = """\
document.getElementById("out").innerHTML = location.hash.slice(1);
"""

CUSTOM_RULE = """\
rules:
  - id: acme-no-print
    languages: [python]
    severity: WARNING
    message: print() is not allowed in Acme services
    pattern: print(...)
    metadata:
      cwe: ["CWE-532: Insertion of Sensitive Information into Log File"]
"""


def _tree(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "repo"
    files = {
        "app/views.py": FLASK_APP + "print(1)\n",
        "app/settings.py": SETTINGS,
        "templates/comment.html": TEMPLATE,
        "static/app.js": BROWSER_JS,
        "README.md": "DEBUG = True\n",
        # Bundled third-party code and minified builds are not the project's own: not selected.
        "static/vendor/lib.js": BROWSER_JS,
        "static/app.min.js": BROWSER_JS,
        # A repository cannot hide files from the rule pack with semgrep's own ignore files.
        ".semgrepignore": "app/\ntemplates/\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root, sorted(files)


def _run(root: Path, files: list[str], **kwargs: object) -> AnalyzerResult:
    result = run_analyzer(SemgrepAnalyzer, root=root, files=files, **kwargs)  # type: ignore[arg-type]
    assert not isinstance(result, AnalyzerFailure), result.errors
    return result


def _found(result: AnalyzerResult) -> set[tuple[str, int | None, str]]:
    return {(f.path, f.start_line, f.rule_id) for f in result.findings}


def test_every_rule_passes_its_test_cases() -> None:
    rule_files = pack.builtin_rule_files()
    assert len(rule_files) >= 30
    for path in rule_files:
        tests = [p for p in path.parent.iterdir() if p.stem == path.stem and p != path]
        assert tests, f"{path.relative_to(pack.RULES_DIR)} has no test file"
    proc = subprocess.run(
        [SEMGREP, "--test", "--json", "--metrics=off", "--disable-version-check", "."],
        cwd=pack.RULES_DIR,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(proc.stdout)
    assert report["config_missing_tests"] == [] and report["config_with_errors"] == []
    checks = {
        rule_id: check
        for outcome in report["results"].values()
        for rule_id, check in outcome["checks"].items()
    }
    assert sorted(checks) == sorted(path.stem for path in rule_files)
    assert {rule_id for rule_id, check in checks.items() if not check["passed"]} == set()
    for check in checks.values():
        (match,) = check["matches"].values()
        # Every rule has vulnerable cases, and they are exactly what it reports.
        assert match["expected_lines"] and match["expected_lines"] == match["reported_lines"]
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_rule_carries_cwe_severity_confidence_and_help() -> None:
    ids: list[str] = []
    for path in pack.builtin_rule_files():
        data = yaml.safe_load(path.read_text())
        (rule,) = data["rules"]
        assert rule["id"] == path.stem
        meta = rule["metadata"]
        assert pack.cwe_ids(meta["cwe"]), path
        assert meta["scanpulse-severity"] in ("high", "medium", "low"), path
        assert meta["confidence"] in ("HIGH", "MEDIUM", "LOW"), path
        assert len(meta["help"]) > 40 and meta["title"], path
        (loaded,) = pack.load_rules(path)
        if rule.get("mode") == "taint" and meta.get("source") == "request":
            # Data that provably comes from a request makes a high-severity finding.
            assert loaded.from_request and loaded.severity == "high", path
        ids.append(rule["id"])
    assert len(ids) == len(set(ids))
    assert {"sql-injection", "xss", "ssrf", "django-config", "template-xss"} <= set(pack.families())


def _source_texts(entry: object, constraints: dict[str, list[str]]) -> list[list[str]]:
    """The texts of a source entry of a taint rule, each metavariable written as a name (one
    text per alternative where a metavariable-regex lists them): a list per alternative of the
    entry, any text of which names what the source needs."""
    if isinstance(entry, dict) and "pattern-either" in entry:
        return [texts for item in entry["pattern-either"] for texts in _source_texts(item, {})]
    if isinstance(entry, dict) and "patterns" in entry:
        items = entry["patterns"]
        found = dict(constraints)
        for item in items:
            regex = item.get("metavariable-regex") if isinstance(item, dict) else None
            if regex and re.fullmatch(r"\^\(([\w|]+)\)\$", regex["regex"]):
                found[regex["metavariable"]] = regex["regex"][2:-2].split("|")
        texts: list[str] = []
        for item in items:
            for key in ("pattern", "pattern-inside"):
                if isinstance(item, dict) and key in item:
                    texts += _expand(item[key], found)
        return [texts]
    assert isinstance(entry, dict) and "pattern" in entry, entry
    return [_expand(entry["pattern"], constraints)]


def _expand(pattern: str, constraints: dict[str, list[str]]) -> list[str]:
    texts = [pattern]
    for name, values in constraints.items():
        texts = [text.replace(name, value) for text in texts for value in values]
    return [re.sub(r"\$[A-Z_]+", "name", text) for text in texts]


def test_the_request_data_rules_see_every_file_their_sources_can_match() -> None:
    """The analyzer gives the request-data rules only the files that contain one of the words
    of ``pack.REQUEST_DATA_WORDS``: every source pattern of those rules names one of them, so
    no file left out could have had a finding."""
    checked = 0
    for path in pack.builtin_rule_files():
        (loaded,) = pack.load_rules(path)
        if not loaded.from_request:
            continue
        words = pack.REQUEST_DATA_WORDS[loaded.language]
        (rule,) = yaml.safe_load(path.read_text())["rules"]
        for entry in rule["pattern-sources"]:
            for texts in _source_texts(entry, {}):
                # With several texts (a source inside a decorated route), one naming a word
                # is enough: every text must match for the source to.
                assert any(words.search(text.encode()) for text in texts), (path.name, texts)
                checked += 1
    assert checked > 100
    route = b'@router.post("/items")\nasync def create(item_id: int):\n    ...\n'
    assert pack.may_hold_request_data("api.py", route)
    assert pack.may_hold_request_data("views.py", b"def view(r):\n    return r.GET['q']\n")
    assert not pack.may_hold_request_data("models.py", b"class Item:\n    name = 'x'\n")
    assert not pack.may_hold_request_data("page.html", b"{{ request.GET.q }}")


def test_findings_carry_rule_severity_cwe_and_code(tmp_path: Path) -> None:
    root, files = _tree(tmp_path)
    logs: list[str] = []
    result = _run(root, files, callbacks=Callbacks(lambda d, t: None, logs.append, lambda: False))
    assert _found(result) == {
        ("app/views.py", 12, "python-sqli-request-data"),
        ("app/views.py", 14, "python-open-redirect-request-data"),
        ("app/settings.py", 1, "django-debug-true"),
        ("app/settings.py", 2, "django-allowed-hosts-wildcard"),
        ("templates/comment.html", 1, "template-safe-filter"),
        ("static/app.js", 1, "js-xss-dom-sink"),
    }
    sqli = next(f for f in result.findings if f.rule_id == "python-sqli-request-data")
    assert (sqli.severity, sqli.confidence) == ("high", "high")
    assert sqli.properties["cwe"] == ["CWE-89"]
    assert sqli.properties["source"] == "request data"
    assert "parameters" in sqli.properties["help"]
    assert sqli.snippet == "cursor.execute(\"SELECT * FROM users WHERE name = '%s'\" % name)"
    debug = next(f for f in result.findings if f.rule_id == "django-debug-true")
    assert (debug.severity, debug.properties["cwe"]) == ("medium", ["CWE-489"])
    rules = {rule.id: rule for rule in result.rules}
    assert set(rules) == {f.rule_id for f in result.findings}
    assert "CWE-89" in rules["python-sqli-request-data"].tags
    assert rules["python-sqli-request-data"].help_text.startswith("Pass values as query")
    # README.md, .semgrepignore, the vendored and the minified file are not selected
    assert result.files_analyzed == 4
    assert result.notes[0].startswith("rule pack ") and "rules" in result.notes[0]
    assert result.errors == [] and result.gaps == []


def test_families_switched_off_and_custom_rules(tmp_path: Path) -> None:
    root, files = _tree(tmp_path)
    rules_dir = tmp_path / "org-rules"
    rules_dir.mkdir()
    (rules_dir / "acme.yaml").write_text(CUSTOM_RULE)
    options = {
        "disable_families": ["django-config", "template-xss"],
        "rule_files": [str(rules_dir / "acme.yaml")],
    }
    result = _run(root, files, options=options)
    assert _found(result) == {
        ("app/views.py", 12, "python-sqli-request-data"),
        ("app/views.py", 14, "python-open-redirect-request-data"),
        ("app/views.py", 15, "acme-no-print"),
        ("static/app.js", 1, "js-xss-dom-sink"),
    }
    custom = next(f for f in result.findings if f.rule_id == "acme-no-print")
    assert (custom.severity, custom.properties["family"]) == ("medium", "custom")
    assert custom.properties["cwe"] == ["CWE-532"]
    assert "families switched off: django-config, template-xss" in result.notes[0]
    assert "1 custom rules" in result.notes[0]
    assert "custom rules: acme.yaml (1 rules)" in result.notes


def test_cached_rescan_and_rule_pack_version_in_the_key(tmp_path: Path) -> None:
    root, files = _tree(tmp_path)
    rules_dir = tmp_path / "org-rules"
    rules_dir.mkdir()
    rule_file = rules_dir / "acme.yaml"
    rule_file.write_text(CUSTOM_RULE)
    options = {"rule_files": [str(rule_file)]}
    cache = MemoryResultCache()
    first = _run(root, files, options=options, cache=cache)
    logs: list[str] = []
    again = _run(
        root,
        files,
        options=options,
        cache=cache,
        callbacks=Callbacks(lambda d, t: None, logs.append, lambda: False),
    )
    assert _found(again) == _found(first)
    assert "4 of 4 files unchanged since an earlier scan: results reused" in logs
    # A changed rule is a new rule pack version: nothing cached is reused.
    rule_file.write_text(CUSTOM_RULE.replace("print(...)", "exit(...)"))
    logs.clear()
    changed = _run(
        root,
        files,
        options=options,
        cache=cache,
        callbacks=Callbacks(lambda d, t: None, logs.append, lambda: False),
    )
    assert not any("results reused" in line for line in logs)
    assert ("app/views.py", 15, "acme-no-print") not in _found(changed)
    analyzer = SemgrepAnalyzer()
    assert analyzer.config_key({}) != SemgrepAnalyzer().config_key({"disable_families": ["xss"]})


def test_repository_configuration_of_the_rule_pack(tmp_path: Path) -> None:
    config = """\
[rule-pack]
disable-families = ["insecure-random"]
rules = ["tools/semgrep", "missing.yaml", "linked.yaml"]
"""
    rules = parse_rules(config, file=".scanpulse.toml", analyzers=["semgrep"])
    assert rules.families_off == {"insecure-random"}
    root = tmp_path / "repo"
    (root / "tools/semgrep").mkdir(parents=True)
    (root / "tools/semgrep/acme.yml").write_text(CUSTOM_RULE)
    (root / "tools/semgrep/notes.txt").write_text("not a rule file")
    outside = tmp_path / "outside.yaml"
    outside.write_text(CUSTOM_RULE)
    (root / "linked.yaml").symlink_to(outside)
    options, messages = rule_pack_options({"rule_files": ["/srv/rules/org.yaml"]}, rules, root)
    assert options["disable_families"] == ["insecure-random"]
    assert options["rule_files"] == ["/srv/rules/org.yaml", str(root / "tools/semgrep/acme.yml")]
    assert messages == [
        "rule-pack rules: 'missing.yaml' is not in the repository: not used.",
        "rule-pack rules: 'linked.yaml' is a link or lies outside: not used.",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[rule-pack]\ndisable-families = ["nope"]\n', "unknown family 'nope'"),
        ('[rule-pack]\nrules = ["../etc"]\n', "is not a path inside the repository"),
        ('[rule-pack]\nrules = ["/etc/rules.yaml"]\n', "is not a path inside the repository"),
        ("[rule-pack]\nfamilies = []\n", "unknown key"),
    ],
)
def test_rule_pack_configuration_mistakes_are_named(text: str, problem: str) -> None:
    with pytest.raises(RepoConfigError) as caught:
        parse_rules(text, file=".scanpulse.toml", analyzers=["semgrep"])
    assert problem in str(caught.value)
    assert str(caught.value).startswith(".scanpulse.toml:")
