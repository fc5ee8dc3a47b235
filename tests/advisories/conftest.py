"""Fixtures for the advisory tests: real PyPA advisory records.

``pypa_*`` is the attributed subset in ``tests/fixtures`` (always present); ``pypa_full_*``
is the whole database from the shared reference data, for claims about every record.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.osv import Advisory
from scanpulse.advisories.osv_files import iter_records
from tests.support.data import fixture_data, shared_data


def _load(path: Path) -> tuple[list[Advisory], list[str]]:
    errors: list[str] = []
    records = list(iter_records(path, errors))
    return records, errors


@pytest.fixture(scope="session")
def pypa_load() -> tuple[list[Advisory], list[str]]:
    """The subset as ``iter_records`` yields it, with the problems it reported."""
    return _load(fixture_data("osv-pypa"))


@pytest.fixture(scope="session")
def pypa_records(pypa_load: tuple[list[Advisory], list[str]]) -> dict[str, Advisory]:
    return {record.id: record for record in pypa_load[0]}


@pytest.fixture(scope="session")
def pypa_index(pypa_records: dict[str, Advisory]) -> MemoryAdvisoryIndex:
    return MemoryAdvisoryIndex(pypa_records.values(), source="PyPA advisory-database")


@pytest.fixture(scope="session")
def pypa_full_load() -> tuple[list[Advisory], list[str]]:
    """The whole database as ``iter_records`` yields it, with the problems it reported."""
    return _load(shared_data("osv-pypa"))


@pytest.fixture(scope="session")
def pypa_full_index(pypa_full_load: tuple[list[Advisory], list[str]]) -> MemoryAdvisoryIndex:
    return MemoryAdvisoryIndex(pypa_full_load[0], source="PyPA advisory-database")


@pytest.fixture(scope="session", params=["subset", "whole database"])
def pypa_any_index(request: pytest.FixtureRequest) -> MemoryAdvisoryIndex:
    """The subset's index, then the whole database's: lookups must agree on both."""
    name = "pypa_index" if request.param == "subset" else "pypa_full_index"
    index: MemoryAdvisoryIndex = request.getfixturevalue(name)
    return index
