"""A real ``scanpulse serve`` for the browser tests and the screenshot script.

Each site has its own data directory and SQLite database (even when the suite runs on
PostgreSQL), no Redis (embedded mode), and is seeded with the ``scanpulse`` command itself.
Seeding runs once; every site starts from a copy of that database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.analyzers import suite_analyzers
from tests.support.repos import LOCAL_ROOTS_ENV, make_repo
from tests.support.services import ServerProcess

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Account:
    email: str
    organization: str  # name of the first organization
    organization_id: str
    token: str = ""


@dataclass(frozen=True)
class Seed:
    """A migrated, seeded data directory to copy."""

    data_dir: Path
    alice: Account  # owner in acme
    bob: Account  # owner in globex
    carol: Account  # member of acme and globex


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SCANPULSE_", "DJANGO_", "DATABASE_", "REDIS_"))
        and name not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "scanpulse.config.settings.embedded",
        "SCANPULSE_DATA_DIR": str(data_dir),
        # Explicit, so a suite running on PostgreSQL still gives each site its own SQLite.
        "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
        "SCANPULSE_WORK_DIR": str(data_dir / "work"),
        **LOCAL_ROOTS_ENV,
        **suite_analyzers(),
    }
    return env


def scanpulse(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    (output,) = scanpulse_parallel(env, [(args, stdin)])
    return output


def scanpulse_parallel(
    env: dict[str, str], commands: list[tuple[tuple[str, ...], str | None]]
) -> list[str]:
    """Run ``scanpulse`` commands at the same time (each one starts Django: ~1 s)."""
    executable = str(Path(sys.executable).with_name("scanpulse"))
    processes = [
        (
            args,
            stdin,
            subprocess.Popen(
                [executable, *args],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args, stdin in commands
    ]
    outputs = []
    for args, stdin, process in processes:
        stdout, stderr = process.communicate(stdin, timeout=60)
        if process.returncode != 0:
            raise RuntimeError(f"scanpulse {' '.join(args)} failed: {stderr[-2000:]}")
        outputs.append(stdout.strip())
    return outputs


def _user(email: str, org: str) -> tuple[tuple[str, ...], str]:
    return ("user", "create", email, "--org", org, "--role", "owner", "--password-stdin"), (
        PASSWORD + "\n"
    )


def seed(data_dir: Path) -> Seed:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _clean_env(data_dir)
    scanpulse(env, "migrate", "--verbosity", "0")
    orgs = dict(
        line.split("\t")[::-1]
        for line in scanpulse_parallel(
            env, [(("org", "create", "acme"), None), (("org", "create", "globex"), None)]
        )
    )
    scanpulse_parallel(
        env,
        [
            _user("alice@acme.example", "acme"),
            _user("bob@globex.example", "globex"),
            _user("carol@acme.example", "acme"),
        ],
    )
    _, alice_token = scanpulse_parallel(
        env,
        [
            _user("carol@acme.example", "globex"),  # carol is in both organizations
            (("token", "create", "alice@acme.example", "--name", "tests"), None),
        ],
    )
    return Seed(
        data_dir=data_dir,
        alice=Account("alice@acme.example", "acme", orgs["acme"], alice_token),
        bob=Account("bob@globex.example", "globex", orgs["globex"]),
        carol=Account("carol@acme.example", "acme", orgs["acme"]),
    )


class Site:
    """A running server with its own copy of the seeded data."""

    def __init__(self, seeded: Seed, root: Path, settings: dict[str, str] | None = None) -> None:
        self.seed = seeded
        self.root = root
        self.data_dir = root / "data"
        shutil.copytree(seeded.data_dir, self.data_dir, ignore=shutil.ignore_patterns("work"))
        self.env = _clean_env(self.data_dir) | (settings or {})
        self.server = ServerProcess(self.env, root / "server.log")
        self.repos = root / "repos"
        self.repos.mkdir()

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Site:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def api(self, account: Account | None = None) -> httpx.Client:
        account = account or self.seed.alice
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=10,
        )

    def repository(self, name: str, files: dict[str, str]) -> Path:
        return make_repo(self.repos / name, files)

    def project(self, name: str, files: dict[str, str]) -> dict[str, Any]:
        """A project of alice's organization scanning a new repository, made through the API."""
        repo = self.repository(name, files)
        with self.api() as api:
            response = api.post("/api/projects/", json={"name": name, "repo_url": str(repo)})
        response.raise_for_status()
        project: dict[str, Any] = response.json()
        return project

    def start_scan(self, project_id: str) -> dict[str, Any]:
        with self.api() as api:
            response = api.post("/api/scans/", json={"project": project_id})
        response.raise_for_status()
        scan: dict[str, Any] = response.json()
        return scan

    def scan(self, scan_id: str) -> dict[str, Any]:
        with self.api() as api:
            response = api.get(f"/api/scans/{scan_id}/")
        response.raise_for_status()
        scan: dict[str, Any] = response.json()
        return scan

    def events(self, scan_id: str, after: int = 0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        with self.api() as api:
            while True:
                page = api.get(
                    f"/api/scans/{scan_id}/events", params={"after": after, "limit": 500}
                )
                page.raise_for_status()
                events = page.json()["events"]
                if not events:
                    return found
                found.extend(events)
                after = events[-1]["seq"]


def files(count: int, prefix: str = "module") -> dict[str, str]:
    """``count`` small Python files, named so that they sort in creation order."""
    return {f"{prefix}_{index:02d}.py": f"VALUE = {index}\n" for index in range(1, count + 1)}
