"""Running the command-line client as a user runs it: the real ``scanpulse`` executable, in
a clean environment, against real git repositories."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.analyzers import paced_settings
from tests.support.repos import LOCAL_ROOTS_ENV, git, make_repo
from tests.support.services import ServerProcess

__all__ = ["git", "make_repo"]

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))
# Variables of the environment running the suite that would change what the client does.
FOREIGN = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "SCANPULSE_SERVER",
    "SCANPULSE_TOKEN",
    "SCANPULSE_DATA_DIR",
)

REAL_ANALYZERS = (
    "scanpulse.analyzers.bandit:BanditAnalyzer",
    "scanpulse.analyzers.secrets:SecretsAnalyzer",
)

VULNERABLE_APP = """import subprocess

AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)  # no user git configuration, no per-user store of the runner
    env.pop("XDG_DATA_HOME", None)
    env.update(extra)
    return env


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``scanpulse``; ``stdin`` is what a user pipes in (nothing, not a terminal, if None)."""
    return subprocess.run(
        [SCANPULSE, *args],
        env=env,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal_screen(env: dict[str, str], *args: str, seconds: float) -> str:
    """What the command shows on a terminal (its stdin, stdout and stderr) during its first
    ``seconds``, without the terminal codes; then it is killed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: become the command
        os.environ.clear()
        os.environ.update(env, COLUMNS="120", LINES="30", TERM="xterm-256color")
        os.execv(SCANPULSE, [SCANPULSE, *args])  # noqa: S606 - no shell wanted
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([terminal], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(terminal)
    return ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def seed_store(workdir: Path) -> tuple[Path, str]:
    """A server's data directory with one organization, its owner and an API token, made with
    the ``scanpulse`` administration commands; returns it and the token."""
    data = workdir / "data"
    env = clean_env(
        workdir / "home",
        SCANPULSE_DATA_DIR=str(data),
        DATABASE_URL=f"sqlite:///{data / 'server.sqlite3'}",
    )
    for args in (
        ["migrate", "-v0"],
        ["org", "create", "acme"],
        ["user", "create", "owner@acme.example", "--org", "acme", "--role", "owner"],
    ):
        seeded = run_cli(env, *args)
        assert seeded.returncode == 0, seeded.stderr
    token = run_cli(env, "token", "create", "owner@acme.example").stdout.strip()
    assert token.startswith("spt_")
    return data, token


class SeededServer:
    """``scanpulse serve`` in embedded mode on a copy of a seeded store (its own SQLite
    database), with the paced test analyzer after the real ones."""

    def __init__(self, workdir: Path, seed: tuple[Path, str], **settings: str) -> None:
        template, self.token = seed
        data = workdir / "data"
        shutil.copytree(template, data)
        self.env = clean_env(
            workdir / "home",
            SCANPULSE_DATA_DIR=str(data),
            DATABASE_URL=f"sqlite:///{data / 'server.sqlite3'}",
            SCANPULSE_ACCESS_LOG="true",
            **LOCAL_ROOTS_ENV,
            **paced_settings(0.3, also=REAL_ANALYZERS),
            **settings,
        )
        self.log = workdir / "server.log"
        self.process = ServerProcess(self.env, self.log)
        self.process.start()
        self.url = self.process.url
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def client_env(self, home: Path, **extra: str) -> dict[str, str]:
        """The environment of a user of this server (no store of the server's own)."""
        return clean_env(home, SCANPULSE_SERVER=self.url, SCANPULSE_TOKEN=self.token, **extra)

    def stop(self) -> None:
        self.api.close()
        self.process.kill()
