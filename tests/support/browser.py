"""Debian's Chromium, launched the way every browser test launches it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's services, which
# this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> Path:
    """The browser, or a skip outside CI (``scripts/system-deps`` installs it)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError("chromium must be installed in CI (scripts/system-deps)")
        pytest.skip("chromium is not installed (scripts/system-deps installs it)")
    return CHROMIUM
