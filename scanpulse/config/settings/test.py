"""Settings for the test suite: fast password hashing, a throwaway data directory."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SCANPULSE_WORK_DIR = Path(tempfile.gettempdir()) / f"scanpulse-test-work-{os.getpid()}"
SCANPULSE_WORKER_CONCURRENCY = 2

# A file, not an in-memory database: scans run on worker threads that need their own
# connections to the same data.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # One file per test run, so concurrent runs in one checkout never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
SCANPULSE_PROGRESS_MIN_INTERVAL = 0.0
# Tests build their repositories in temporary directories: that whole directory is one local
# root, shared by every organization. Tests of per-organization roots set their own.
SCANPULSE_LOCAL_REPO_ROOTS = [os.path.realpath(tempfile.gettempdir())]

# The suite's scans run the default analyzers but the rule pack, which costs a scan seconds of
# CPU; the tests of the rule pack name it (tests/scans/test_rule_pack_scans.py,
# tests/analyzers/test_semgrep.py). The processes the tests start (servers, workers, the
# command line) read the same list from the environment.
SCANPULSE_ANALYZERS = [
    path
    for path in SCANPULSE_ANALYZERS  # noqa: F405
    if path != "scanpulse.analyzers.semgrep:SemgrepAnalyzer"
]
os.environ.setdefault("SCANPULSE_ANALYZERS", ",".join(SCANPULSE_ANALYZERS))
