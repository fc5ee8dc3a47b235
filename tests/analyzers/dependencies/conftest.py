"""Fixtures for the dependencies analyzer tests: an index over real PyPA advisory records (the repository's subset)."""

from __future__ import annotations

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from tests.support.data import fixture_data


@pytest.fixture(scope="session")
def pypa_index() -> MemoryAdvisoryIndex:
    path = fixture_data("osv-pypa")
    index, errors = MemoryAdvisoryIndex.load(path, source="PyPA advisory-database")
    assert errors == []
    return index
