"""The credentials handed to git for one fetch: hidden from ``repr``, given only to the
expected host's prompts, and gone with the fetch, whether it ends well, fails or is cancelled."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from scanpulse.pipeline.auth import GitAuth, prepared
from scanpulse.pipeline.locations import NetworkPolicy, remote_of
from scanpulse.pipeline.source import FetchCancelled, FetchError, FetchLimits, fetch
from tests.credentials.conftest import bare_repository
from tests.support.git_http import closed_port
from tests.support.private_git import AuthenticatingGitHost

SECRET = "tok-7f3a9c1e5b"
AUTH = GitAuth(kind="https_token", label="project 'app'", secret=SECRET, username="bot")


def test_repr_hides_the_secret() -> None:
    assert SECRET not in repr(AUTH) and SECRET not in str(AUTH)
    assert "hidden" in repr(AUTH)


def test_the_helper_answers_only_the_expected_host(tmp_path: Path) -> None:
    url = "https://git.example.com:8443/app.git"
    remote = remote_of(url)
    assert remote is not None
    with prepared(AUTH, remote=remote, source=url, ssh_address=None, scratch=tmp_path) as ready:
        helper = ready.environment["GIT_ASKPASS"]
        directory = Path(helper).parent
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((directory / "secret").stat().st_mode) == 0o600
        assert SECRET not in " ".join(ready.environment.values())

        def ask(prompt: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([helper, prompt], capture_output=True, text=True, check=False)

        assert ask("Username for 'https://git.example.com:8443': ").stdout == "bot"
        assert ask("Password for 'https://bot@git.example.com:8443': ").stdout == SECRET
        # a submodule, or a redirect, on another host gets nothing
        other = ask("Password for 'https://bot@evil.example.com': ")
        assert other.returncode != 0 and other.stdout == ""
    assert not directory.exists()


def _leftovers(root: Path) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.name in ("secret", "askpass", "key")]


def test_the_files_go_when_the_fetch_fails(tmp_path: Path) -> None:
    limits = FetchLimits(network=NetworkPolicy.parse(["127.0.0.0/8"]), protocols=("https",))
    (tmp_path / "scratch").mkdir()
    with pytest.raises(FetchError):
        fetch(
            f"https://127.0.0.1:{closed_port()}/app.git",
            "main",
            tmp_path / "scratch" / "src",
            limits=limits,
            auth=AUTH,
        )
    assert (tmp_path / "scratch").exists() and _leftovers(tmp_path / "scratch") == []


def test_the_files_go_when_the_fetch_is_cancelled(tmp_path: Path) -> None:
    served = bare_repository(tmp_path, big_file_bytes=512 * 1024)
    with AuthenticatingGitHost(tmp_path / "host", served, "bot", SECRET, rate=64 * 1024) as host:
        limits = FetchLimits(network=NetworkPolicy.parse(["127.0.0.0/8"]), ca_bundle=str(host.cert))
        seen: list[bool] = []
        (tmp_path / "scratch").mkdir()

        def cancelled() -> bool:
            # cancelled once the helper's files are there and git is talking to the host
            seen.append(bool(_leftovers(tmp_path / "scratch")))
            return len(seen) > 4

        with pytest.raises(FetchCancelled):
            fetch(
                host.url("app.git"),
                "main",
                tmp_path / "scratch" / "src",
                limits=limits,
                auth=AUTH,
                is_cancelled=cancelled,
            )
    assert any(seen)
    assert _leftovers(tmp_path / "scratch") == []
    assert os.listdir(tmp_path / "scratch") == ["src"]  # the checkout is the caller's to remove


def test_a_token_is_never_sent_over_plain_http(tmp_path: Path) -> None:
    limits = FetchLimits(network=NetworkPolicy.parse(["127.0.0.0/8"]), protocols=("https", "http"))
    (tmp_path / "scratch").mkdir()
    with pytest.raises(FetchError) as refused:
        fetch(
            f"http://127.0.0.1:{closed_port()}/app.git",
            "main",
            tmp_path / "scratch" / "src",
            limits=limits,
            auth=AUTH,
        )
    assert str(refused.value) == (
        "The credentials of project 'app' are an HTTPS token, but the repository's URL is not "
        "an https:// URL: use an SSH deploy key, or the repository's HTTPS URL."
    )
