"""Reference data outside the repository (``../shared/data``); CI always has it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("SCANPULSE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"reference data missing in CI: {path}")
        pytest.skip(f"reference data not available at {path}")
    return path
