"""The analyzers of the servers the tests start: the suite's list, or the paced test analyzer."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

PLUGINS = Path(__file__).resolve().parent / "plugins"


def suite_analyzers() -> dict[str, str]:
    """The suite's analyzer list for a server or worker started with an environment of its own:
    the default list but the rule pack (``scanpulse/config/settings/test.py``)."""
    return {"SCANPULSE_ANALYZERS": os.environ["SCANPULSE_ANALYZERS"]}


def paced_settings(seconds_per_file: float, *, also: Sequence[str] = ()) -> dict[str, str]:
    """Environment for a server whose scans log one line per file at a known pace
    (``paced: looked at <file>``), optionally next to real analyzers (dotted paths)."""
    return {
        "SCANPULSE_ANALYZER_PATHS": str(PLUGINS),
        "SCANPULSE_ANALYZERS": ",".join([*also, "paced:PacedAnalyzer"]),
        "SCANPULSE_ANALYZER_OPTIONS": json.dumps({"paced": {"seconds_per_file": seconds_per_file}}),
    }
