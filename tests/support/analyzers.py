"""Server settings that swap the real analyzers for the paced test analyzer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

PLUGINS = Path(__file__).resolve().parent / "plugins"


def paced_settings(seconds_per_file: float, *, also: Sequence[str] = ()) -> dict[str, str]:
    """Environment for a server whose scans log one line per file at a known pace
    (``paced: looked at <file>``), optionally next to real analyzers (dotted paths)."""
    return {
        "SCANPULSE_ANALYZER_PATHS": str(PLUGINS),
        "SCANPULSE_ANALYZERS": ",".join([*also, "paced:PacedAnalyzer"]),
        "SCANPULSE_ANALYZER_OPTIONS": json.dumps({"paced": {"seconds_per_file": seconds_per_file}}),
    }
