"""``scanpulse credential``, run as an administrator would: the real executable. The token
comes on standard input, never as an argument, and is never printed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.tenancy.test_commands import cli  # noqa: F401 - the fixture

TOKEN = "glpat-from-stdin-5f9c2e"


def test_add_list_and_delete_an_organization_credential(cli, tmp_path: Path) -> None:  # noqa: F811
    assert cli("org", "create", "acme").returncode == 0
    assert (
        cli("user", "create", "owner@acme.example", "--org", "acme", "--role", "owner").returncode
        == 0
    )
    assert (
        cli("user", "create", "v@acme.example", "--org", "acme", "--role", "viewer").returncode == 0
    )

    missing = cli("credential", "add", "ci", "--org", "acme", "--as", "owner@acme.example",
                  "--kind", "https_token", "--username", "bot")  # fmt: skip
    assert missing.returncode != 0 and "--token-stdin" in missing.stderr
    added = cli("credential", "add", "ci", "--org", "acme", "--as", "owner@acme.example",
                "--kind", "https_token", "--username", "bot", "--token-stdin", stdin=TOKEN + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    credential_id, name, fingerprint = added.stdout.strip().split("\t")
    assert name == "ci" and fingerprint.startswith("hmac:") and TOKEN not in added.stdout

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)  # fmt: skip
    key = cli("credential", "add", "deploy", "--org", "acme", "--as", "owner@acme.example",
              "--kind", "ssh_key", "--private-key-file", str(tmp_path / "k"))  # fmt: skip
    assert key.returncode == 0, key.stderr
    public = (tmp_path / "k.pub").read_text().split()[1]
    assert public in key.stdout and "PRIVATE" not in key.stdout

    refused = cli("credential", "delete", credential_id, "--as", "v@acme.example")
    assert refused.returncode != 0
    assert "Only owners and admins can manage credentials" in refused.stderr

    listing = cli("credential", "list", "--org", "acme").stdout
    assert f"{credential_id}\tci\thttps_token\tbot\t{fingerprint}\tused by 0 project(s)" in listing
    assert TOKEN not in listing and "deploy" in listing

    assert cli("credential", "delete", credential_id, "--as", "owner@acme.example").returncode == 0
    assert "\tci\t" not in cli("credential", "list", "--org", "acme").stdout
