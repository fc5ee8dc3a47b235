"""Fixtures for the dependencies analyzer tests: an index over the real PyPA advisory data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanpulse.advisories.index import MemoryAdvisoryIndex


def _shared_data() -> Path:
    configured = os.environ.get("SCANPULSE_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture(scope="session")
def pypa_index() -> MemoryAdvisoryIndex:
    path = _shared_data() / "osv-pypa"
    if not path.is_dir():
        pytest.skip(f"PyPA advisory data not found at {path} (set SCANPULSE_SHARED_DATA)")
    index, errors = MemoryAdvisoryIndex.load(path, source="PyPA advisory-database")
    assert errors == []
    return index
