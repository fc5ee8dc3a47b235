"""The isolated runner turns every analyzer failure into a clear result, kills whole process
groups, keeps the checkout out of the child's imports, and reuses per-file results."""

from __future__ import annotations

import importlib
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from scanpulse.analyzers.base import AnalyzerResult, Gap
from scanpulse.analyzers.isolation import run_isolated
from scanpulse.analyzers.result_cache import MemoryResultCache
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import AnalyzerCancelled, AnalyzerFailure, Callbacks, Limits

PLUGINS = textwrap.dedent(
    '''
    import ctypes
    import json
    import os
    import subprocess
    import sys
    import time

    from scanpulse.analyzers.base import Analyzer, AnalyzerFinding, AnalyzerResult, Gap, Rule
    from scanpulse.analyzers.files import process_in_chunks


    class _Base(Analyzer):
        step = "Testing"

        def tool_version(self):
            return "1.0"

        def _result(self, **fields):
            return AnalyzerResult(tool=self.name, tool_version="1.0", **fields)


    class Echo(_Base):
        """A finding per line containing "flag", an error per file containing "broken"."""

        name = "echo"
        per_file = True

        def selects(self, path):
            return not path.endswith(".skip")

        def run(self, context):
            with open(context.options["record"], "a") as record:
                record.write(json.dumps(context.files) + "\\n")
            findings, errors = [], list(context.options.get("tool_errors", []))
            gaps = []
            for done, path in enumerate(context.files, 1):
                text = (context.root / path).read_text()
                if "broken" in text:
                    errors.append(f"{path}: broken file")
                if "half" in text:
                    gaps.append(Gap(path, "partial", "only half of it was read"))
                for number, line in enumerate(text.splitlines(), 1):
                    if "flag" in line:
                        findings.append(AnalyzerFinding(
                            rule_id="E1", severity="low", confidence="high", path=path,
                            start_line=number, end_line=number, message="a flag",
                            snippet=line.strip(),
                        ))
                context.progress(done, len(context.files))
            rules = [Rule(id="E1", name="flag", short_description="A flag")] if findings else []
            return self._result(
                rules=rules, findings=findings, errors=errors,
                files_analyzed=len(context.files) - len(errors), gaps=gaps,
            )


    def _fragile_chunk(root, paths):
        outcomes = []
        for path in paths:
            text = open(os.path.join(root, path)).read()
            if "segfault" in text:
                import faulthandler
                faulthandler.disable()
                ctypes.string_at(0)
            if "hog" in text:
                text = bytearray(4 * 1024 ** 3)  # beyond the memory limit
            outcomes.append((path, [n for n, line in enumerate(text.splitlines(), 1)
                                    if "flag" in line], None))
        return outcomes


    def _fragile_crashed(path, reason):
        return (path, [], f"{path}: not analyzed: {reason}")


    class Fragile(Echo):
        """Echo, but on worker processes; some files kill theirs."""

        name = "fragile"

        def run(self, context):
            with open(context.options["record"], "a") as record:
                record.write(json.dumps(context.files) + "\\n")
            outcomes = process_in_chunks(
                _fragile_chunk, context.root, context.files, max_workers=context.max_workers,
                progress=context.progress, chunk_size=2, crashed=_fragile_crashed,
            )
            findings = [
                AnalyzerFinding(
                    rule_id="E1", severity="low", confidence="high", path=path,
                    start_line=number, end_line=number, message="a flag", snippet="flag",
                )
                for path, numbers, _ in outcomes for number in numbers
            ]
            errors = [error for _, _, error in outcomes if error]
            return self._result(
                rules=[Rule(id="E1", name="flag", short_description="A flag")],
                findings=findings, errors=errors,
                files_analyzed=len(outcomes) - len(errors),
                gaps=[Gap(path, "skipped", error.split(": ", 1)[1])
                      for path, _, error in outcomes if error],
            )


    class Whole(Echo):
        name = "whole"
        per_file = False


    class Exit(_Base):
        name = "exit"

        def run(self, context):
            os._exit(3)


    class Segfault(_Base):
        name = "segfault"

        def run(self, context):
            ctypes.string_at(0)


    class Raises(_Base):
        name = "raises"

        def run(self, context):
            raise ValueError("some detail of the checkout")


    class Silent(_Base):
        name = "silent"

        def run(self, context):
            sys.stdout.flush()
            os._exit(0)


    class Hang(_Base):
        name = "hang"

        def run(self, context):
            sleeper = subprocess.Popen(["sleep", "1000"])
            context.log(f"grandchild {sleeper.pid}")
            context.progress(0, 1)
            time.sleep(1000)


    class Hog(_Base):
        name = "hog"

        def run(self, context):
            hoard = bytearray(4 * 1024 ** 3)
            return self._result(notes=[str(len(hoard))])


    class Spin(_Base):
        name = "spin"

        def run(self, context):
            while True:
                pass


    class Chatty(_Base):
        name = "chatty"

        def run(self, context):
            print("this is not protocol")
            print("warning: something", file=sys.stderr)
            return self._result(notes=["done"])


    class Inspect(_Base):
        name = "inspect"

        def run(self, context):
            facts = {
                "cwd": os.getcwd(),
                "cwd_entries": os.listdir("."),
                "env": dict(os.environ),
                "sys_path": sys.path,
                "isolated": sys.flags.isolated,
                "max_workers": context.max_workers,
                "files": context.files,
                "options": context.options,
            }
            return self._result(notes=[json.dumps(facts)])
    '''
)


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "fake_analyzers.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(directory))
    return [str(directory)]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "a.txt").write_text("flag one\nplain\n")
    (root / "b.txt").write_text("nothing here\n")
    (root / "c.txt").write_text("flag\nflag again\n")
    (root / "ignored.skip").write_text("flag\n")
    return root


def _run(name: str, root: Path, plugin_paths: list[str], **kwargs: Any) -> AnalyzerResult:
    return run_isolated(
        f"fake_analyzers:{name}",
        root=root,
        files=kwargs.pop("files", []),
        plugin_paths=plugin_paths,
        **kwargs,
    )


def _gone(pid: int, within: float = 2.0) -> bool:
    """Whether the process no longer runs (a zombie waiting to be reaped counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _grandchild(logs: list[str]) -> int:
    return int(next(line for line in logs if line.startswith("grandchild")).split()[1])


# --- isolation -------------------------------------------------------------------------------


def test_child_runs_isolated_from_the_checkout(
    checkout: Path, plugins: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (checkout / "sitecustomize.py").write_text(f"open({str(checkout / 'pwned')!r}, 'w')\n")
    (checkout / "usercustomize.py").write_text(f"open({str(checkout / 'pwned')!r}, 'w')\n")
    monkeypatch.setenv("SCANPULSE_ADVISORY_DIR", "/srv/advisories")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:secret@db/scanpulse")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-analyzers")
    monkeypatch.setenv("PYTHONPATH", str(checkout))
    monkeypatch.chdir(checkout)

    result = _run(
        "Inspect",
        checkout,
        plugins,
        files=["a.txt"],
        options={"x": 1},
        limits=Limits(max_workers=3),
    )

    facts = json.loads(result.notes[0])
    assert not (checkout / "pwned").exists()
    assert facts["isolated"] == 1
    assert str(checkout) not in facts["sys_path"] and "" not in facts["sys_path"]
    assert facts["cwd"] != str(checkout) and facts["cwd_entries"] == []
    assert not Path(facts["cwd"]).exists()  # the temporary directory is removed afterwards
    env = facts["env"]
    assert env["HOME"] == facts["cwd"] and env["PYTHONNOUSERSITE"] == "1"
    assert "AWS_SECRET_ACCESS_KEY" not in env and "PYTHONPATH" not in env
    assert "DATABASE_URL" not in env and "SCANPULSE_ADVISORY_DIR" not in env
    assert set(env) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_CTYPE",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONNOUSERSITE",
    }
    assert (facts["files"], facts["options"], facts["max_workers"]) == (["a.txt"], {"x": 1}, 3)


def test_plugin_paths_inside_the_checkout_are_refused(checkout: Path) -> None:
    with pytest.raises(ValueError, match="lies inside the checkout"):
        run_isolated("fake_analyzers:Echo", root=checkout, files=[], plugin_paths=[str(checkout)])


def test_stray_output_does_not_disturb_the_protocol(checkout: Path, plugins: list[str]) -> None:
    result = _run("Chatty", checkout, plugins)

    assert type(result) is AnalyzerResult
    assert result.notes == ["done"]


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Exit", "analyzer exit crashed (exit code 3)"),
        ("Segfault", "analyzer segfault crashed (exit code -11, SIGSEGV)"),
        ("Raises", "analyzer raises crashed (unhandled ValueError)"),
        ("Silent", "analyzer silent exited without a result"),
    ],
)
def test_a_crashing_analyzer_becomes_a_failure_result(
    checkout: Path, plugins: list[str], name: str, message: str
) -> None:
    logs: list[str] = []

    result = _run(name, checkout, plugins, callbacks=Callbacks(on_log=logs.append))

    assert isinstance(result, AnalyzerFailure)
    assert result.errors == [message]
    assert result.tool == name.lower() and result.tool_version == "1.0"
    assert result.findings == [] and result.files_analyzed == 0
    assert len(logs) == 1 and logs[0].startswith(f"analyzer {name.lower()} error output")
    if name == "Raises":
        assert "some detail of the checkout" in logs[0]  # in the log, never in the message


def test_a_hanging_analyzer_times_out_and_its_grandchild_dies(
    checkout: Path, plugins: list[str]
) -> None:
    logs: list[str] = []
    started = time.monotonic()

    result = _run(
        "Hang",
        checkout,
        plugins,
        limits=Limits(timeout_s=2),
        callbacks=Callbacks(on_log=logs.append),
    )

    assert isinstance(result, AnalyzerFailure) and result.kind == "timed_out"
    assert result.errors == ["analyzer hang timed out after 2 s"]
    assert time.monotonic() - started < 4
    assert _gone(_grandchild(logs))


def test_a_memory_hungry_analyzer_is_stopped_by_its_limit(
    checkout: Path, plugins: list[str]
) -> None:
    result = _run("Hog", checkout, plugins, limits=Limits(memory_mb=256))

    assert isinstance(result, AnalyzerFailure) and result.kind == "memory"
    assert result.errors == ["analyzer hog exceeded its 256 MB memory limit"]


def test_a_spinning_analyzer_is_stopped_by_its_cpu_limit(
    checkout: Path, plugins: list[str]
) -> None:
    result = _run("Spin", checkout, plugins, limits=Limits(cpu_s=1, timeout_s=20))

    assert isinstance(result, AnalyzerFailure) and result.kind == "cpu"
    assert result.errors == ["analyzer spin exceeded its 1 s CPU time limit"]


def test_cancellation_stops_the_run_within_a_second(checkout: Path, plugins: list[str]) -> None:
    logs: list[str] = []
    cancelled_at: list[float] = []

    def is_cancelled() -> bool:
        if logs and not cancelled_at:
            cancelled_at.append(time.monotonic())
        return bool(cancelled_at)

    with pytest.raises(AnalyzerCancelled):
        _run(
            "Hang",
            checkout,
            plugins,
            callbacks=Callbacks(on_log=logs.append, is_cancelled=is_cancelled),
        )

    assert time.monotonic() - cancelled_at[0] < 1.0
    assert _gone(_grandchild(logs))


def test_an_error_in_the_caller_kills_the_process_group(checkout: Path, plugins: list[str]) -> None:
    logs: list[str] = []

    def on_progress(done: int, total: int) -> None:
        raise RuntimeError("the pipeline broke")

    with pytest.raises(RuntimeError, match="the pipeline broke"):
        _run(
            "Hang",
            checkout,
            plugins,
            callbacks=Callbacks(on_log=logs.append, on_progress=on_progress),
        )

    assert _gone(_grandchild(logs))


# --- the per-file cache ----------------------------------------------------------------------


def _calls(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def _echo(
    checkout: Path,
    plugins: list[str],
    cache: MemoryResultCache | None,
    record: Path,
    progress: list[tuple[int, int]] | None = None,
    **options: Any,
) -> AnalyzerResult:
    seen = progress if progress is not None else []
    return run_analyzer(
        "fake_analyzers:Echo",
        root=checkout,
        files=sorted(p.name for p in checkout.iterdir()),
        options={"record": str(record), **options},
        cache=cache,
        callbacks=Callbacks(on_progress=lambda done, total: seen.append((done, total))),
        plugin_paths=plugins,
    )


def test_unchanged_files_are_not_analyzed_again(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"
    first_progress: list[tuple[int, int]] = []
    second_progress: list[tuple[int, int]] = []

    first = _echo(checkout, plugins, cache, record, first_progress)
    second = _echo(checkout, plugins, cache, record, second_progress)

    assert _calls(record) == [["a.txt", "b.txt", "c.txt"]]  # no child at all the second time
    assert len(cache.entries) == 3
    assert [] in cache.entries.values()  # a file without findings is a cached result too
    assert second.to_dict() == first.to_dict()
    assert [(f.path, f.start_line) for f in second.findings] == [
        ("a.txt", 1),
        ("c.txt", 1),
        ("c.txt", 2),
    ]
    assert [rule.id for rule in second.rules] == ["E1"]
    assert second.files_analyzed == 3
    assert first_progress[0] == (0, 3) and first_progress[-1] == (3, 3)
    assert second_progress == [(3, 3)]


def test_only_changed_files_are_analyzed_and_progress_counts_the_cached_ones(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"
    _echo(checkout, plugins, cache, record)
    (checkout / "b.txt").write_text("now a flag\n")
    progress: list[tuple[int, int]] = []

    result = _echo(checkout, plugins, cache, record, progress)

    assert _calls(record)[1:] == [["b.txt"]]
    assert progress == [(2, 3), (3, 3)]
    assert [(f.path, f.start_line, f.snippet) for f in result.findings] == [
        ("a.txt", 1, "flag one"),
        ("b.txt", 1, "now a flag"),
        ("c.txt", 1, "flag"),
        ("c.txt", 2, "flag again"),
    ]


def test_files_with_errors_are_not_cached(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"
    (checkout / "b.txt").write_text("broken\n")

    first = _echo(checkout, plugins, cache, record)
    second = _echo(checkout, plugins, cache, record)

    assert first.errors == second.errors == ["b.txt: broken file"]
    assert _calls(record) == [["a.txt", "b.txt", "c.txt"], ["b.txt"]]
    assert second.files_analyzed == 2


def test_files_with_gaps_are_not_cached(checkout: Path, plugins: list[str], tmp_path: Path) -> None:
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"
    (checkout / "b.txt").write_text("only half\n")

    first = _echo(checkout, plugins, cache, record)
    second = _echo(checkout, plugins, cache, record)

    assert first.gaps == second.gaps == [Gap("b.txt", "partial", "only half of it was read")]
    assert _calls(record) == [["a.txt", "b.txt", "c.txt"], ["b.txt"]]


def test_a_file_that_kills_its_worker_loses_nothing_else_and_the_rest_is_cached(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    # given: among the files, one that crashes its worker and one that exhausts its memory
    (checkout / "hog.txt").write_text("hog\nflag\n")
    (checkout / "segv.txt").write_text("segfault\nflag\n")
    files = sorted(p.name for p in checkout.iterdir())
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"
    logs: list[str] = []

    def run() -> AnalyzerResult:
        return run_analyzer(
            "fake_analyzers:Fragile",
            root=checkout,
            files=files,
            options={"record": str(record)},
            limits=Limits(timeout_s=60, memory_mb=512, max_workers=2),
            cache=cache,
            callbacks=Callbacks(on_log=logs.append),
            plugin_paths=plugins,
        )

    # when
    first = run()
    second = run()

    # then: the run succeeds with every other file's findings, and says what it could not do
    for result in (first, second):
        assert not isinstance(result, AnalyzerFailure), result.errors
        assert [(f.path, f.start_line) for f in result.findings] == [
            ("a.txt", 1),
            ("c.txt", 1),
            ("c.txt", 2),
        ]
        assert result.errors == [
            "hog.txt: not analyzed: the worker process analyzing it ran out of memory",
            "segv.txt: not analyzed: the worker process analyzing it was killed (SIGSEGV)",
        ]
        assert [(gap.path, gap.kind) for gap in result.gaps] == [
            ("hog.txt", "skipped"),
            ("segv.txt", "skipped"),
        ]
    # ... and the good files' results were kept: the second run analyzed only the culprits
    selected = [name for name in files if not name.endswith(".skip")]
    assert _calls(record) == [selected, ["hog.txt", "segv.txt"]]
    assert "3 of 5 files unchanged since an earlier scan: results reused" in logs


def test_nothing_is_cached_when_an_error_is_about_no_particular_file(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"

    result = _echo(checkout, plugins, cache, record, tool_errors=["the tool misbehaved"])

    assert result.errors == ["the tool misbehaved"]
    assert cache.entries == {}


def test_nothing_is_cached_from_a_failed_run(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    cache = MemoryResultCache()

    result = run_analyzer(
        "fake_analyzers:Exit",
        root=checkout,
        files=["a.txt"],
        cache=cache,
        plugin_paths=plugins,
    )

    assert isinstance(result, AnalyzerFailure)
    assert cache.entries == {}


def test_the_cache_key_changes_with_the_options(
    checkout: Path, plugins: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo = importlib.import_module("fake_analyzers").Echo
    monkeypatch.setattr(echo, "config_key", lambda self, options: options["mode"])
    cache = MemoryResultCache()
    record = tmp_path / "record.jsonl"

    _echo(checkout, plugins, cache, record, mode="a")
    _echo(checkout, plugins, cache, record, mode="b")
    _echo(checkout, plugins, cache, record, mode="a")

    assert len(_calls(record)) == 2


def test_without_a_cache_or_per_file_every_selected_file_goes_to_the_child(
    checkout: Path, plugins: list[str], tmp_path: Path
) -> None:
    record = tmp_path / "record.jsonl"

    _echo(checkout, plugins, None, record)
    run_analyzer(
        "fake_analyzers:Whole",
        root=checkout,
        files=["a.txt", "b.txt", "ignored.skip"],
        options={"record": str(record)},
        cache=MemoryResultCache(),
        plugin_paths=plugins,
    )

    assert _calls(record) == [["a.txt", "b.txt", "c.txt"], ["a.txt", "b.txt"]]


def test_failure_results_serialize_like_any_result() -> None:
    failure = AnalyzerFailure(tool="x", tool_version="1", errors=["analyzer x crashed"])

    assert AnalyzerResult.from_dict(failure.to_dict()) == AnalyzerResult(
        tool="x", tool_version="1", errors=["analyzer x crashed"]
    )
