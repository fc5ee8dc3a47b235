"""The administration commands, run as a user would: the real ``scanpulse`` executable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))


@pytest.fixture
def cli(tmp_path: Path):
    env = {**os.environ, "SCANPULSE_DATA_DIR": str(tmp_path / "data")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SCANPULSE, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
        )

    assert run("migrate", "-v0").returncode == 0
    return run


def test_org_user_token_lifecycle(cli) -> None:
    created = cli("org", "create", "acme")
    assert created.returncode == 0 and created.stdout.strip().endswith("\tacme")
    duplicate = cli("org", "create", "acme")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr

    user = cli(
        "user",
        "create",
        "Alice@Example.com",
        "--org",
        "acme",
        "--role",
        "admin",
        "--password-stdin",
        stdin="correct horse battery staple\n",
    )
    assert user.returncode == 0, user.stderr
    viewer = cli("user", "create", "bob@example.com", "--org", "acme", "--role", "viewer")
    assert viewer.returncode == 0, viewer.stderr
    assert viewer.stdout.strip() == "bob@example.com\tacme\tviewer"
    unknown = cli("user", "create", "eve@example.com", "--org", "acme", "--role", "god")
    assert unknown.returncode != 0 and "viewer" in unknown.stderr

    token = cli("token", "create", "alice@example.com", "--name", "laptop")
    assert token.returncode == 0
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spt_"), "only the token goes to stdout"

    listing = cli("token", "list", "alice@example.com")
    assert "laptop" in listing.stdout and lines[0] not in listing.stdout

    revoked = cli("token", "revoke", lines[0])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in cli("token", "list", "alice@example.com").stdout


def test_token_create_with_a_scope_and_an_expiry_shows_the_token_once(cli) -> None:
    import datetime as dt

    cli("org", "create", "acme")
    cli("user", "create", "alice@example.com", "--org", "acme")
    in_days = cli(
        "token", "create", "alice@example.com", "--name", "ci", "--scope", "scan", "--expiry", "30"
    )
    assert in_days.returncode == 0, in_days.stderr
    (token,) = in_days.stdout.splitlines()
    assert token.startswith("spt_")
    expected = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).date().isoformat()
    assert "scan scope" in in_days.stderr and f"expires {expected}" in in_days.stderr
    assert "shown only now" in in_days.stderr and token not in in_days.stderr
    last_day = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=90)).isoformat()
    until = cli(
        "token",
        "create",
        "alice@example.com",
        "--name",
        "r",
        "--scope",
        "read",
        "--expiry",
        last_day,
    )
    assert until.returncode == 0, until.stderr
    day_after = (dt.date.fromisoformat(last_day) + dt.timedelta(days=1)).isoformat()
    assert f"expires {day_after} 00:00 UTC" in until.stderr

    listing = cli("token", "list", "alice@example.com").stdout
    rows = {line.split("\t")[2]: line.split("\t") for line in listing.splitlines()}
    assert rows["ci"][3] == "scan" and rows["ci"][5].startswith(f"expires {expected}")
    assert rows["r"][3] == "read" and rows["r"][5] == f"expires {day_after}T00:00:00+00:00"
    assert token not in listing and until.stdout.strip() not in listing

    for bad, says in [
        (["--scope", "root"], "invalid choice"),
        (["--expiry", "0"], "Between 1 and 3650 days"),
        (["--expiry", "2001-01-01"], "must be in the future"),
        (["--expiry", "next week"], "give a number of days"),
    ]:
        refused = cli("token", "create", "alice@example.com", *bad)
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
        assert refused.stdout == ""


def test_bad_input_is_reported(cli) -> None:
    assert "No organization" in cli("user", "create", "a@b.example", "--org", "nope").stderr
    cli("org", "create", "acme")
    weak = cli("user", "create", "a@b.example", "--org", "acme", "--password-stdin", stdin="123\n")
    assert weak.returncode != 0 and "too short" in weak.stderr
    assert cli("user", "create", "not-an-email", "--org", "acme").returncode != 0
    assert "No user" in cli("token", "create", "ghost@b.example").stderr
    assert cli("token", "revoke", "not-a-token").returncode != 0


def test_set_password_reads_the_password_from_stdin_or_a_prompt_never_argv(cli) -> None:
    cli("org", "create", "acme")
    cli("user", "create", "alice@example.com", "--org", "acme")
    changed = cli(
        "user",
        "set-password",
        "Alice@Example.com",
        "--password-stdin",
        stdin="a fresh passphrase\n",
    )
    assert changed.returncode == 0, changed.stderr
    assert "a fresh passphrase" not in changed.stdout + changed.stderr
    # Without --password-stdin it asks on a terminal; with none, it says how instead.
    no_terminal = cli("user", "set-password", "alice@example.com", stdin="")
    assert no_terminal.returncode != 0 and "--password-stdin" in no_terminal.stderr
    in_argv = cli("user", "set-password", "alice@example.com", "a fresh passphrase")
    assert in_argv.returncode != 0 and "unrecognized arguments" in in_argv.stderr
    weak = cli("user", "set-password", "alice@example.com", "--password-stdin", stdin="123\n")
    assert weak.returncode != 0 and "too short" in weak.stderr
    similar = cli(
        "user", "set-password", "alice@example.com", "--password-stdin", stdin="alice@example.com\n"
    )
    assert similar.returncode != 0 and "too similar" in similar.stderr
    ghost = cli("user", "set-password", "ghost@example.com", "--password-stdin", stdin="x" * 20)
    assert ghost.returncode != 0 and "No user" in ghost.stderr


def test_invisible_and_bidirectional_characters_in_names_are_refused(cli) -> None:
    message = "Invisible and text-direction characters are not allowed (U+{:04X} found)."
    spoofed_org = cli("org", "create", "acme\u202e")
    assert spoofed_org.returncode != 0
    assert message.format(0x202E) in spoofed_org.stderr
    assert "acme" not in cli("org", "list").stdout

    assert cli("org", "create", "acme").returncode == 0
    spoofed_user = cli("user", "create", "alice@ex\u200bample.com", "--org", "acme")
    assert spoofed_user.returncode != 0
    assert message.format(0x200B) in spoofed_user.stderr

    assert cli("user", "create", "alice@example.com", "--org", "acme").returncode == 0
    spoofed_token = cli("token", "create", "alice@example.com", "--name", "ci\u2066laptop")
    assert spoofed_token.returncode != 0
    assert message.format(0x2066) in spoofed_token.stderr
    assert spoofed_token.stdout == "", "no token is printed"
    assert cli("token", "list", "alice@example.com").stdout == ""
