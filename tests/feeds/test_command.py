"""``scanpulse advisories sync`` without a path: the operator's sync with the feed, its
progress bars on a terminal and its summary."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_the_summary_names_each_ecosystem_and_what_changed(sync, feed, go_records) -> None:
    out = io.StringIO()
    call_command("advisories", "sync", "--ecosystem", "go", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        f"Go: {len(go_records)} records — {len(go_records)} added, 0 modified, 0 removed ("
    )
    assert (
        lines[-1]
        == f"Advisory feed: 1 updated, 0 unchanged, 0 failed; {len(go_records)} records changed."
    )
    assert [seen.path for seen in feed.requests] == ["/Go/all.zip"]

    again = io.StringIO()
    call_command("advisories", "sync", stdout=again)
    go, npm, summary = again.getvalue().splitlines()
    assert go == f"Go: unchanged since the last sync ({feed.base_url}/Go/all.zip)"
    loaded = re.fullmatch(r"npm: (\d+) records — \1 added, 0 modified, 0 removed \(.*\)", npm)
    assert loaded is not None and int(loaded.group(1)) > 0
    assert summary == (
        f"Advisory feed: 1 updated, 1 unchanged, 0 failed; {loaded.group(1)} records changed."
    )

    status = io.StringIO()
    call_command("advisories", "status", stdout=status)
    assert f"  Go: {len(go_records)} records, checked " in status.getvalue()


def test_a_failed_ecosystem_fails_the_command_and_keeps_the_data(sync, feed) -> None:
    feed.put("npm", b"PK\x03\x04 truncated")
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"Not synced: npm \(the data loaded before stays\)"):
        call_command("advisories", "sync", stdout=out)
    assert "npm: failed — The download of" in out.getvalue()
    assert "Advisory feed: 1 updated, 0 unchanged, 1 failed" in out.getvalue()


def test_an_unknown_ecosystem_is_refused_naming_the_choices(sync) -> None:
    with pytest.raises(CommandError, match="Unknown ecosystem Hackage: choose from Go, npm"):
        call_command("advisories", "sync", "--ecosystem", "Hackage")


def test_on_a_terminal_the_command_shows_progress_bars(feed, go_records, tmp_path: Path) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    env |= {
        "SCANPULSE_DATA_DIR": str(tmp_path / "data"),
        "SCANPULSE_OSV_BASE_URL": feed.base_url,
        "SCANPULSE_OSV_CA_BUNDLE": str(feed.cert_path),
        "SCANPULSE_GIT_ALLOWED_NETWORKS": "127.0.0.1/32",
        "COLUMNS": "120",
        "TERM": "xterm",
    }
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("scanpulse")),
            "advisories",
            "sync",
            "--ecosystem",
            "Go",
        ],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    os.close(primary)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    assert "Go download" in text and "Go verify" in text and "Go load" in text
    assert "━" in text  # the bar itself
    summary = f"Advisory feed: 1 updated, 0 unchanged, 0 failed; {len(go_records)} records changed."
    assert summary in text
