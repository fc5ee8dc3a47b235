"""A real ``scanpulse worker`` (Celery) for tests: one slot, on this run's test database and
a private broker, its output in a log file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.repos import LOCAL_ROOTS_ENV
from tests.support.services import RedisServer, suite_database_url

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))


class Worker:
    """``scanpulse worker --concurrency 1`` taking work from ``broker``; ``settings`` are added
    to its environment. Started when made: it has said it is ready."""

    def __init__(
        self, broker: RedisServer, workdir: Path, settings: dict[str, str] | None = None
    ) -> None:
        self.log = workdir / "worker.log"
        env = {
            **{key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
            **LOCAL_ROOTS_ENV,
            "REDIS_URL": broker.url,
            "DATABASE_URL": suite_database_url(),
            "SCANPULSE_ALLOW_LOCAL_REPOS": "true",
            "SCANPULSE_DATA_DIR": str(workdir / "data"),
            "SCANPULSE_WORK_DIR": str(workdir / "work"),
            **(settings or {}),
        }
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [SCANPULSE, "worker", "--concurrency", "1"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while " ready." not in self.text():
            assert self.process.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, self.text()[-3000:]
            time.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
