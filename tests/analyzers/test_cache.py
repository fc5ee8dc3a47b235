"""The per-file result cache gives every file its own findings exactly once: a scan served
from the cache is the scan the analyzer would have produced, whatever the copies, renames and
changes between scans; and no run ever holds more findings than its limit."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.analyzers.bandit import BanditAnalyzer
from scanpulse.analyzers.base import AnalyzerResult
from scanpulse.analyzers.result_cache import MemoryResultCache, ResultCache
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import Limits, TooManyFindings
from tests.analyzers.test_bandit import OPTIONS as BANDIT_OPTIONS
from tests.support.analyzers import PLUGINS

FLAGS = "flagging:FlagAnalyzer"
PROLIFIC = "flagging:ProlificAnalyzer"

# Lines the flag analyzer tells apart: findings, findings naming their file, an error, nothing.
LINES = ("flag one", "flag two", "here", "flag here", "plain", "broken", "")
NAMES = ("a.txt", "b.txt", "c.txt", "sub/a.txt", "sub/d.txt", "sub/deeper/e.txt", "f.skip")


@pytest.fixture(scope="module", autouse=True)
def _importable_plugins() -> Iterator[None]:
    """The runner imports the analyzer here too (for its name and cache key)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(PLUGINS))
        yield


contents = st.lists(st.sampled_from(LINES), max_size=4).map(lambda lines: "\n".join(lines) + "\n")


@st.composite
def two_trees(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    """A tree and a later one: few contents over many names, so files share content within a
    tree and across the two (copies, renames, files changed back and forth)."""
    pool = draw(st.lists(contents, min_size=1, max_size=3))
    tree = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(pool), min_size=1)
    return draw(tree), draw(tree)


def _write(root: Path, tree: dict[str, str]) -> Path:
    for name, text in tree.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _scan(root: Path, tree: dict[str, str], cache: ResultCache | None) -> AnalyzerResult:
    return run_analyzer(
        FLAGS, root=root, files=sorted(tree), cache=cache, plugin_paths=[str(PLUGINS)]
    )


@settings(max_examples=50, deadline=None)
@given(two_trees())
def test_a_cached_rescan_equals_a_fresh_scan(trees: tuple[dict[str, str], dict[str, str]]) -> None:
    before, after = trees
    cache = MemoryResultCache()
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        _scan(_write(Path(first), before), before, cache)  # what an earlier scan left
        root = _write(Path(second), after)

        fresh = _scan(root, after, MemoryResultCache())
        cached = _scan(root, after, cache)
        again = _scan(root, after, cache)

    assert cached.to_dict() == fresh.to_dict()
    assert again.to_dict() == fresh.to_dict()


def test_copies_of_a_file_each_get_their_own_bandit_findings_once(tmp_path: Path) -> None:
    # given: three identical files
    for name in ("one.py", "two.py", "pkg/three.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("import subprocess\nsubprocess.call(x, shell=True)\n")
    files = ["one.py", "pkg/three.py", "two.py"]
    cache = MemoryResultCache()

    # when
    first = run_analyzer(
        BanditAnalyzer, root=tmp_path, files=files, options=BANDIT_OPTIONS, cache=cache
    )
    second = run_analyzer(
        BanditAnalyzer, root=tmp_path, files=files, options=BANDIT_OPTIONS, cache=cache
    )

    # then
    assert [(f.path, f.rule_id, f.start_line) for f in first.findings] == [
        ("one.py", "B404", 1),
        ("one.py", "B602", 2),
        ("pkg/three.py", "B404", 1),
        ("pkg/three.py", "B602", 2),
        ("two.py", "B404", 1),
        ("two.py", "B602", 2),
    ]
    assert second.to_dict() == first.to_dict()


def test_entries_of_the_earlier_cache_format_are_never_read(tmp_path: Path) -> None:
    # given: an entry as the first format stored it for three copies of one file: the
    # findings of all three under the one content key
    text = "flag one\n"
    _write(tmp_path, {"a.txt": text})
    parts = ("flags", "1", "", hashlib.sha256(text.encode()).hexdigest())
    old_key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    finding = {
        "rule_id": "FLAG001",
        "severity": "medium",
        "confidence": "high",
        "start_line": 1,
        "end_line": 1,
        "message": "a flagged line",
        "snippet": "flag one",
        "properties": {},
        "rule": None,
    }
    cache = MemoryResultCache({old_key: [finding] * 3})

    # when
    result = _scan(tmp_path, {"a.txt": text}, cache)

    # then
    assert [(f.path, f.start_line) for f in result.findings] == [("a.txt", 1)]


def test_an_analyzer_reporting_more_than_its_limit_is_refused(tmp_path: Path) -> None:
    tree = {f"f{n}.txt": "x\n" for n in range(3)}
    _write(tmp_path, tree)

    def run(limit: int) -> AnalyzerResult:
        return run_analyzer(
            PROLIFIC,
            root=tmp_path,
            files=sorted(tree),
            options={"per_file": 50},
            limits=Limits(max_findings=limit),
            plugin_paths=[str(PLUGINS)],
        )

    assert len(run(150).findings) == 150
    with pytest.raises(
        TooManyFindings, match=r"^analyzer prolific reported more than 149 findings$"
    ):
        run(149)


def test_cached_findings_count_toward_the_limit(tmp_path: Path) -> None:
    # given: ten copies of a file with ten findings, all in the cache
    text = "flag\n" * 10
    tree = {f"copy{n}.txt": text for n in range(10)}
    _write(tmp_path, tree)
    cache = MemoryResultCache()
    limits = Limits(max_findings=100)
    run_analyzer(
        FLAGS,
        root=tmp_path,
        files=sorted(tree),
        cache=cache,
        limits=limits,
        plugin_paths=[str(PLUGINS)],
    )

    # when: an eleventh copy makes 110 findings, every one of them from the cache
    tree["copy10.txt"] = text
    _write(tmp_path, tree)

    # then
    with pytest.raises(TooManyFindings, match="more than 100 findings"):
        run_analyzer(
            FLAGS,
            root=tmp_path,
            files=sorted(tree),
            cache=cache,
            limits=limits,
            plugin_paths=[str(PLUGINS)],
        )


def test_the_cache_keys_of_a_run_are_those_stored_by_earlier_releases() -> None:
    # The analyzer's part of the key is found once per run; the keys themselves must not
    # change, or every cache entry already stored would be missed once after an upgrade.
    from scanpulse.analyzers.result_cache import CACHE_FORMAT, cache_key, cache_keys

    analyzer = BanditAnalyzer()
    content = hashlib.sha256(b"import os\n").hexdigest()
    parts = (
        CACHE_FORMAT,
        analyzer.name,
        analyzer.tool_version(),
        analyzer.config_key(BANDIT_OPTIONS),
        content,
    )
    stored = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    key_of = cache_keys(analyzer, BANDIT_OPTIONS)
    assert key_of(content) == cache_key(analyzer, BANDIT_OPTIONS, content) == stored
    assert key_of(hashlib.sha256(b"other").hexdigest()) != stored
