"""Finding analyzer classes: dotted paths from the settings plus the ``scanpulse.analyzers`` entry points."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
from collections.abc import Sequence

from scanpulse.analyzers.base import Analyzer

ENTRY_POINT_GROUP = "scanpulse.analyzers"

DEFAULT_ANALYZERS: tuple[str, ...] = (
    "scanpulse.analyzers.bandit:BanditAnalyzer",
    "scanpulse.analyzers.secrets:SecretsAnalyzer",
    "scanpulse.analyzers.dependencies.analyzer:DependenciesAnalyzer",
    # Infrastructure code; on a tree without any, no process is started (docs/analyzers.md).
    "scanpulse.analyzers.checkov:CheckovAnalyzer",
    # The rule pack: a full scan of the Django tree with it takes about 1.5x the time without
    # it (docs/benchmarks.md, "Scan speed"), and it finds what Bandit does not.
    "scanpulse.analyzers.semgrep:SemgrepAnalyzer",
)


class AnalyzerConfigError(ValueError):
    """An analyzer path or entry point that cannot be used; the message says which and why."""


def analyzer_path(cls: type[Analyzer]) -> str:
    """The ``module:Class`` path that :func:`import_analyzer` turns back into ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _check(obj: object, source: str) -> type[Analyzer]:
    if not (isinstance(obj, type) and issubclass(obj, Analyzer)):
        raise AnalyzerConfigError(f"{source} is not an Analyzer subclass")
    if inspect.isabstract(obj):
        raise AnalyzerConfigError(f"{source} is abstract (it does not implement every method)")
    for attribute in ("name", "step"):
        value = getattr(obj, attribute, None)
        if not isinstance(value, str) or not value:
            raise AnalyzerConfigError(f"{source} has no {attribute!r} string")
    return obj


def import_analyzer(path: str) -> type[Analyzer]:
    """Import ``"package.module:Class"`` (or ``"package.module.Class"``) and check it."""
    module_name, separator, attribute = path.partition(":")
    if not separator:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise AnalyzerConfigError(
            f"analyzer path {path!r} is not of the form 'package.module:Class'"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a broken module must name itself, whatever it raised
        raise AnalyzerConfigError(
            f"analyzer path {path!r}: module {module_name!r} cannot be imported ({exc})"
        ) from exc
    obj: object = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AnalyzerConfigError(
                f"analyzer path {path!r}: {module_name!r} has no attribute {attribute!r}"
            ) from None
    return _check(obj, f"analyzer path {path!r}")


def _entry_point_analyzers() -> list[tuple[str, type[Analyzer]]]:
    found = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else "unknown distribution"
        source = f"entry point {entry_point.name!r} ({entry_point.value}, from {distribution})"
        try:
            obj = entry_point.load()
        except Exception as exc:  # a broken plugin must name itself, whatever it raised
            raise AnalyzerConfigError(f"{source} cannot be loaded ({exc})") from exc
        found.append((source, _check(obj, source)))
    return found


def load_analyzers(
    paths: Sequence[str], *, entry_points: bool = True, plugin_paths: Sequence[str] = ()
) -> dict[str, type[Analyzer]]:
    """Analyzer classes by name: ``paths`` in order, then the installed entry points.
    ``plugin_paths`` are directories to import plugin modules from (added to ``sys.path``).

    The same class listed twice is kept once; two classes claiming one name are an error.
    """
    for directory in plugin_paths:
        if directory not in sys.path:
            sys.path.append(directory)
    candidates = [(f"analyzer path {path!r}", import_analyzer(path)) for path in paths]
    if entry_points:
        candidates.extend(_entry_point_analyzers())
    analyzers: dict[str, type[Analyzer]] = {}
    sources: dict[str, str] = {}
    for source, cls in candidates:
        existing = analyzers.get(cls.name)
        if existing is cls:
            continue
        if existing is not None:
            raise AnalyzerConfigError(
                f"analyzer name {cls.name!r} is used twice: by {sources[cls.name]} and by {source}"
            )
        analyzers[cls.name] = cls
        sources[cls.name] = source
    return analyzers


def resolve_analyzer(analyzer: str | type[Analyzer]) -> tuple[str, type[Analyzer]]:
    """An analyzer given as a class or as its ``module:Class`` path: (path, class)."""
    if isinstance(analyzer, str):
        return analyzer, import_analyzer(analyzer)
    return analyzer_path(analyzer), analyzer
