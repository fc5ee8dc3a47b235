"""The embedded mode's generated keys: commands started at once on a fresh data directory all
use the same keys, and nobody else can read them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

READ_KEYS = (
    "from scanpulse.config.settings import base; "
    "print(base.SECRET_KEY, ','.join(base.SCANPULSE_ENCRYPTION_KEYS))"
)


def test_commands_started_at_once_on_a_fresh_data_directory_share_one_key_of_each(
    tmp_path: Path,
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SECRET_KEY", "SCANPULSE_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE")
    } | {"SCANPULSE_DATA_DIR": str(tmp_path / "data")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", READ_KEYS], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    outputs = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    # then: one secret key and one encryption key, both non-empty, for every process
    assert len(outputs) == 1, outputs
    secret_key, encryption_key = outputs.pop().split(" ")
    assert len(secret_key) >= 50 and len(encryption_key) == 44
    for name in ("secret_key", "encryption_key"):
        mode = stat.S_IMODE((tmp_path / "data" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    # no candidate left behind
    assert not [path.name for path in (tmp_path / "data").iterdir() if path.name.startswith(".")]
