"""Fixtures for private repositories: a bare repository to serve, a project, scans to the end,
and what a test searches for a secret (every process, every log record, every table)."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from scanpulse.scans.models import Scan
from tests.scans.conftest import wait_for_scan
from tests.support.repos import GitRepo


def bare_repository(tmp_path: Path, *, big_file_bytes: int = 0) -> Path:
    """``<tmp>/served/app.git``: one commit on main with a vulnerable line of Python, and
    optionally an incompressible file of ``big_file_bytes`` (to make the fetch take a while)."""
    work = GitRepo(tmp_path / "work")
    work.write("app.py", "import subprocess\nsubprocess.call('ls', shell=True)\n")
    if big_file_bytes:
        work.write("blob.bin", os.urandom(big_file_bytes))
    work.commit("initial")
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(
        ["git", "clone", "--bare", "--quiet", str(work.path), str(served / "app.git")], check=True
    )
    return served


def create_project(tenant: Any, name: str, repo_url: str) -> str:
    response = tenant.client.post(
        "/api/projects/", {"name": name, "repo_url": repo_url}, format="json"
    )
    assert response.status_code == 201, response.json()
    return str(response.json()["id"])


def scan_project(tenant: Any, project_id: str) -> Scan:
    response = tenant.client.post("/api/scans/", {"project": project_id}, format="json")
    assert response.status_code == 201, response.json()
    return wait_for_scan(response.json()["id"])


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    """Every record any logger emits, at every level, formatted; the SQL of this thread's
    connection included (its statements and their parameters)."""
    from django.db import connection

    handler = _Everything()
    connection.force_debug_cursor = True
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)
    ]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        connection.force_debug_cursor = False
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


def database_dump() -> str:
    """Every column of every row of every table, as text."""
    rows = []
    for model in apps.get_models():
        for values in model._default_manager.all().values_list():
            rows.append(f"{model._meta.label}: {values!r}")
    return "\n".join(rows)


class ProcessWatch:
    """Samples the command line and environment of every process while running, recording the
    processes in which ``needle`` appears and the git processes that talked to the host."""

    def __init__(self, needle: str) -> None:
        self.needle = needle.encode()
        self.found: list[str] = []
        self.git_transports: set[int] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples += 1
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        content = Path(f"/proc/{entry}/{part}").read_bytes()
                    except OSError:
                        continue
                    if self.needle in content:
                        self.found.append(f"{entry}/{part}: {content[:200]!r}")
                    if part == "cmdline" and (
                        b"remote-https" in content or b"IdentitiesOnly" in content
                    ):
                        self.git_transports.add(int(entry))
            self._stop.wait(0.01)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
