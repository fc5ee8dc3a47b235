"""``scanpulse worker`` node names, as Celery's remote control reports them: several workers
on one host must not answer under one name."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support.services import RedisServer, suite_database_url

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCANPULSE = str(Path(sys.executable).with_name("scanpulse"))


class Worker:
    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [SCANPULSE, "worker", "--concurrency", "1", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while " ready." not in self.text():
            assert self.process.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, self.text()[-3000:]
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()  # warm shutdown: nothing runs, so it exits at once
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_worker(redis: RedisServer, tmp_path: Path) -> Iterator[object]:
    started: list[Worker] = []
    env = {
        **{key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
        "REDIS_URL": redis.url,
        "DATABASE_URL": suite_database_url(),
        "SCANPULSE_DATA_DIR": str(tmp_path / "data"),
        "SCANPULSE_WORK_DIR": str(tmp_path / "work"),
    }

    def start(*args: str) -> Worker:
        worker = Worker(env, tmp_path / f"worker{len(started)}.log", *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        with contextlib.suppress(OSError):
            worker.stop()


def test_workers_on_one_host_answer_under_distinct_names(start_worker, redis) -> None:
    # given: two workers started the same way on this host, and one named with Celery's -n
    first, second = start_worker(), start_worker()
    named = start_worker("-n", "reports@%h")
    for worker in (first, second, named):
        worker.wait_ready()

    # when: an operator pings them through the broker
    app = Celery(broker=redis.url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        replies = app.control.ping(timeout=3)  # every reply, duplicates included
        by_name = app.control.inspect(timeout=3).ping() or {}
    app.close()

    # then: three workers, three names; the default ones say which process they are
    host = socket.gethostname()
    names = sorted(name for reply in replies for name in reply)
    assert len(names) == 3 and len(set(names)) == 3, names
    assert sorted(by_name) == names
    assert f"reports@{host}" in names
    for worker in (first, second):
        pattern = rf"scanpulse-{worker.process.pid}-[0-9a-f]{{4}}@{re.escape(host)}"
        assert [name for name in names if re.fullmatch(pattern, name)], (pattern, names)
    # ... and nothing warns of (or logs) a duplicate node name
    assert [str(w.message) for w in caught if "uplicate" in w.category.__name__] == []
    for worker in (first, second, named):
        assert "DuplicateNodename" not in worker.text()
        assert "celery@" not in worker.text()
