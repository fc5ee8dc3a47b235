"""Running analyzers: each in its own resource-limited child process, with a per-file result cache.

:func:`run_analyzer` is what the pipeline calls; :func:`run_isolated` is the bare child-process
run underneath it. Neither raises for a failing analyzer: the failure becomes an
:class:`AnalyzerFailure` (a result carrying one user-facing error). Only cancellation raises.

The child-process run is ``isolation``, the per-file cache ``result_cache``, and the terms
of a run (limits, callbacks, failures) ``runs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scanpulse.analyzers.base import Analyzer, AnalyzerResult
from scanpulse.analyzers.isolation import run_isolated
from scanpulse.analyzers.registry import resolve_analyzer
from scanpulse.analyzers.result_cache import (
    ResultCache,
    cache_keys,
    merge_cached,
    sha256_of,
    store_results,
)
from scanpulse.analyzers.runs import (
    DEFAULT_LIMITS,
    NO_CALLBACKS,
    AnalyzerCancelled,
    AnalyzerFailure,
    Callbacks,
    Limits,
)


def run_analyzer(
    analyzer: str | type[Analyzer],
    *,
    root: Path,
    files: Sequence[str],
    options: dict[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    cache: ResultCache | None = None,
    callbacks: Callbacks = NO_CALLBACKS,
    plugin_paths: Sequence[str] = (),
) -> AnalyzerResult:
    """Run one analyzer on the ``files`` it selects, reusing cached per-file results.

    For ``per_file`` analyzers with a ``cache``, files whose content was analyzed before with
    the same tool version and configuration are not analyzed again (no child process at all
    when every file hits); progress counts them as done. Results of files the analyzer reported
    errors or gaps for are not cached, and nothing is cached from a failed run.

    Raises :class:`AnalyzerCancelled` on cancellation, and :class:`TooManyFindings` when the
    files, cached or not, have more than ``limits.max_findings`` findings together.
    """
    path, cls = resolve_analyzer(analyzer)
    instance = cls()
    options = options or {}
    selected = instance.narrow(root, [name for name in files if instance.selects(name)])
    if not selected and cls.skip_when_empty:
        callbacks.on_progress(0, 0)
        return instance.nothing_to_do()
    if not (cls.per_file and cache is not None):
        return run_isolated(
            path,
            root=root,
            files=selected,
            options=options,
            limits=limits,
            callbacks=callbacks,
            plugin_paths=plugin_paths,
        )

    keys: dict[str, str] = {}
    key_of = cache_keys(instance, options)
    for index, name in enumerate(selected):
        if index % 256 == 0 and callbacks.is_cancelled():
            raise AnalyzerCancelled(f"analyzer {cls.name} was cancelled")
        digest = sha256_of(root / name)
        if digest is not None:
            keys[name] = key_of(digest)
    cached = cache.get_many(list(keys.values()))
    hits = {name: cached[key] for name, key in keys.items() if key in cached}
    misses = [name for name in selected if name not in hits]
    total = len(selected)
    callbacks.on_progress(len(hits), total)
    if hits:
        callbacks.on_log(
            f"{len(hits)} of {total} files unchanged since an earlier scan: results reused"
        )

    if misses:

        def on_progress(done: int, _total: int) -> None:
            callbacks.on_progress(len(hits) + done, total)

        fresh = run_isolated(
            path,
            root=root,
            files=misses,
            options=options,
            limits=limits,
            callbacks=Callbacks(on_progress, callbacks.on_log, callbacks.is_cancelled),
            plugin_paths=plugin_paths,
        )
        if isinstance(fresh, AnalyzerFailure):
            return fresh
    else:
        fresh = AnalyzerResult(tool=cls.name, tool_version=instance.tool_version())

    store_results(cache, fresh, misses, keys)
    return merge_cached(fresh, hits, limits)
