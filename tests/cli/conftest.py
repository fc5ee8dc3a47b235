"""Fixtures of the client tests: a repository with known problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import VULNERABLE_APP, make_repo


@pytest.fixture
def vulnerable_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "web", {"app.py": VULNERABLE_APP, "README.md": "# web\n"})
