"""Fixtures for the advisory tests: the real PyPA advisory database from the shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from scanpulse.advisories.osv import Advisory, iter_records


def _shared_data() -> Path:
    configured = os.environ.get("SCANPULSE_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def pypa_dir() -> Path:
    path = _shared_data() / "osv-pypa"
    if not path.is_dir():
        pytest.skip(f"PyPA advisory data not found at {path} (set SCANPULSE_SHARED_DATA)")
    return path


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
