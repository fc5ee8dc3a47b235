"""Real server processes for the stream tests, sharing the test database."""

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
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "SCANPULSE_DATA_DIR": str(tmp_path / f"server{len(started)}"),
            "SCANPULSE_SCAN_EXECUTOR": "scanpulse.scans.executors.InProcessExecutor",
            "SCANPULSE_SSE_HEARTBEAT_SECONDS": "15",
            **env,
        }
        environment.pop("DJANGO_SETTINGS_MODULE", None)
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
