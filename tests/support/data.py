"""Reference data for the tests: a small attributed set inside the repository, the full
sets outside it.

``fixture_data`` is the subset kept in ``tests/fixtures`` (see its README): every test that
validates SARIF or matches advisories runs on it, so a fresh clone's ``make test`` runs them.
``shared_data`` is the full reference data in ``../shared/data``, which CI always has; only
tests about a whole database (record counts, every record loading) need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

SHARED_DATA = Path(
    os.environ.get("SCANPULSE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)


def fixture_data(*parts: str) -> Path:
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test fixture missing from the repository: {path}")
    return path


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"reference data missing in CI: {path}")
        pytest.skip(f"reference data not available at {path} (the whole-database tests need it)")
    return path
