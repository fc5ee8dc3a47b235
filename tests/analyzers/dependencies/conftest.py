"""Fixtures for the dependencies analyzer tests: an index over the real PyPA advisory data."""

from __future__ import annotations

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex
from tests.support.data import shared_data


@pytest.fixture(scope="session")
def pypa_index() -> MemoryAdvisoryIndex:
    path = shared_data("osv-pypa")
    index, errors = MemoryAdvisoryIndex.load(path, source="PyPA advisory-database")
    assert errors == []
    return index
