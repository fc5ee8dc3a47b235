"""A scan's SARIF 2.1.0 report for GitHub code scanning, streamed in chunks or built whole
from the one serializer, ``iter_sarif_chunks`` (see docs/sarif.md).

The report is built from ``model`` (runs, limits, fixed values) by ``document`` (the
streaming serializer), which keeps each run within GitHub's limits (``fitting``) and writes
its SARIF objects (``objects``).
"""

from .document import build_sarif, iter_sarif_chunks, write_sarif
from .model import (
    FINGERPRINT_KEY,
    GITHUB_LIMITS,
    GitHubLimits,
    ReportedFinding,
    SarifRun,
    StreamedSarifRun,
    automation_id_for,
)

__all__ = [
    "FINGERPRINT_KEY",
    "GITHUB_LIMITS",
    "GitHubLimits",
    "ReportedFinding",
    "SarifRun",
    "StreamedSarifRun",
    "automation_id_for",
    "build_sarif",
    "iter_sarif_chunks",
    "write_sarif",
]
