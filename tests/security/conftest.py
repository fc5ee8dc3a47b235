"""Real server processes for the security tests, pointed at this run's test database (SQLite
or PostgreSQL, whichever the suite runs on), and a private Redis for production-mode servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.support.services import RedisServer, ServerProcess, redis_server


def database_url() -> str:
    """The URL of the database this test run uses (the test database, not the configured one)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def servers(transactional_db: None, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start ``scanpulse serve`` processes on the test database; all are killed afterwards."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        environment = {
            **{
                name: value
                for name, value in os.environ.items()
                if name != "DJANGO_SETTINGS_MODULE"
            },
            "DATABASE_URL": database_url(),
            "SCANPULSE_DATA_DIR": str(tmp_path / f"server{len(started)}"),
            "SCANPULSE_SCAN_EXECUTOR": "scanpulse.scans.executors.InProcessExecutor",
            **env,  # may choose the settings module (the embedded one by default)
        }
        server = ServerProcess(environment, tmp_path / f"server{len(started)}.log")
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def redis_bus(redis: RedisServer, settings) -> RedisServer:
    """Make this test process publish its events on the private Redis, like a worker."""
    from scanpulse.events.bus import reset_bus

    settings.REDIS_URL = redis.url
    settings.SCANPULSE_EVENT_BUS = "scanpulse.events.redis.RedisEventBus"
    reset_bus()
    return redis
