"""Fixtures for the advisory tests: the real PyPA advisory database from the shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.osv import Advisory, iter_records
from tests.support.data import shared_data


@pytest.fixture(scope="session")
def pypa_dir() -> Path:
    return shared_data("osv-pypa")


@pytest.fixture(scope="session")
def pypa_load(pypa_dir: Path) -> tuple[list[Advisory], list[str]]:
    """The whole database as ``iter_records`` yields it, with the problems it reported."""
    errors: list[str] = []
    records = list(iter_records(pypa_dir, errors))
    return records, errors


@pytest.fixture(scope="session")
def pypa_records(pypa_load: tuple[list[Advisory], list[str]]) -> dict[str, Advisory]:
    return {record.id: record for record in pypa_load[0]}


@pytest.fixture(scope="session")
def pypa_index(pypa_records: dict[str, Advisory]) -> MemoryAdvisoryIndex:
    return MemoryAdvisoryIndex(pypa_records.values(), source="PyPA advisory-database")
