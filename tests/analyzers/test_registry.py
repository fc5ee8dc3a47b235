"""Analyzer classes come from dotted paths and entry points, with clear errors for bad ones."""

from __future__ import annotations

import importlib.metadata
from typing import Any, ClassVar

import pytest

from scanpulse.analyzers import registry
from scanpulse.analyzers.bandit import BanditAnalyzer
from scanpulse.analyzers.base import Analyzer, AnalyzerContext, AnalyzerResult
from scanpulse.analyzers.registry import (
    AnalyzerConfigError,
    analyzer_path,
    import_analyzer,
    load_analyzers,
)
from scanpulse.analyzers.secrets import SecretsAnalyzer


class _Base(Analyzer):
    step: ClassVar[str] = "Testing"

    def tool_version(self) -> str:
        return "1"

    def run(self, context: AnalyzerContext) -> AnalyzerResult:
        return AnalyzerResult(tool=self.name, tool_version="1")


class OtherBandit(_Base):
    name: ClassVar[str] = "bandit"


class Extra(_Base):
    name: ClassVar[str] = "extra"


class Nameless(_Base):
    pass


def _entry_points(*values: str) -> Any:
    def fake(group: str) -> list[importlib.metadata.EntryPoint]:
        assert group == "scanpulse.analyzers"
        return [
            importlib.metadata.EntryPoint(name=f"ep{i}", value=value, group=group)
            for i, value in enumerate(values)
        ]

    return fake


def test_loads_both_path_forms_in_order() -> None:
    analyzers = load_analyzers(
        [
            "scanpulse.analyzers.secrets:SecretsAnalyzer",
            "scanpulse.analyzers.bandit.BanditAnalyzer",
        ],
        entry_points=False,
    )

    assert analyzers == {"secrets": SecretsAnalyzer, "bandit": BanditAnalyzer}


def test_default_analyzers_are_bandit_secrets_dependencies_checkov_and_the_rule_pack() -> None:
    assert [path.rsplit(":", 1)[1] for path in registry.DEFAULT_ANALYZERS] == [
        "BanditAnalyzer",
        "SecretsAnalyzer",
        "DependenciesAnalyzer",
        "CheckovAnalyzer",
        "SemgrepAnalyzer",
    ]
    assert registry.DEFAULT_ANALYZERS[2] == (
        "scanpulse.analyzers.dependencies.analyzer:DependenciesAnalyzer"
    )


def test_analyzer_path_round_trips() -> None:
    assert analyzer_path(BanditAnalyzer) == "scanpulse.analyzers.bandit:BanditAnalyzer"
    assert import_analyzer(analyzer_path(Extra)) is Extra


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("nomodule", "is not of the form 'package.module:Class'"),
        (
            "scanpulse.analyzers.nosuchmodule:X",
            "module 'scanpulse.analyzers.nosuchmodule' cannot be imported",
        ),
        ("scanpulse.analyzers.bandit:Missing", "has no attribute 'Missing'"),
        ("json:JSONDecoder", "is not an Analyzer subclass"),
        ("scanpulse.analyzers.base:Analyzer", "is abstract"),
        (f"{__name__}:Nameless", "has no 'name' string"),
    ],
)
def test_bad_paths_are_clear_errors(path: str, expected: str) -> None:
    with pytest.raises(AnalyzerConfigError, match="analyzer path") as caught:
        import_analyzer(path)
    assert expected in str(caught.value)
    assert repr(path) in str(caught.value)


def test_two_classes_with_one_name_are_an_error() -> None:
    with pytest.raises(AnalyzerConfigError) as caught:
        load_analyzers(
            ["scanpulse.analyzers.bandit:BanditAnalyzer", f"{__name__}:OtherBandit"],
            entry_points=False,
        )
    assert "analyzer name 'bandit' is used twice" in str(caught.value)


def test_entry_points_are_added_and_duplicates_of_the_same_class_kept_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        _entry_points(f"{__name__}:Extra", "scanpulse.analyzers.bandit:BanditAnalyzer"),
    )

    analyzers = load_analyzers(["scanpulse.analyzers.bandit:BanditAnalyzer"])

    assert analyzers == {"bandit": BanditAnalyzer, "extra": Extra}
    assert load_analyzers([], entry_points=False) == {}


def test_a_broken_entry_point_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        importlib.metadata, "entry_points", _entry_points("scanpulse.analyzers.nosuch:X")
    )

    with pytest.raises(
        AnalyzerConfigError, match=r"entry point 'ep0' \(scanpulse\.analyzers\.nosuch:X"
    ):
        load_analyzers([])


def test_an_entry_point_to_a_non_analyzer_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points("json:dumps"))

    with pytest.raises(AnalyzerConfigError, match="is not an Analyzer subclass"):
        load_analyzers([])
