"""Fixtures shared by the whole suite: organizations, users, tokens and API clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import NodeId
from rest_framework.test import APIClient

from scanpulse.tenancy.models import Organization, Role
from scanpulse.tenancy.services import organization_create, token_create, user_create
from tests.support.services import RedisServer, redis_server

# Servers and commands the tests start never sync with the public OSV feed (the feed's own tests
# point them at a local HTTPS server).
os.environ.setdefault("SCANPULSE_OSV_SYNC_INTERVAL_HOURS", "0")

# Suites whose servers bring their own database, whatever DATABASE_URL says: the browser and
# command-line tests run embedded sites on SQLite, the fault tests a production topology on a
# throwaway PostgreSQL database. Selectable with ``-m own_database``.
OWN_DATABASE = ("faults", "web", "cli")

# The fixtures through which a test reaches the test database (directly or through another
# fixture: pytest lists the whole closure in ``item.fixturenames``).
DATABASE_FIXTURES = frozenset(
    ("db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback")
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    seen: set[str] = set()
    for item in items:
        # Every test needs an id of its own: the test processes are handed tests by id, and of
        # tests sharing one, only the first would run. Schemathesis names each operation's
        # test (``…[GET /api/…]``) but gives all of them the function's id.
        if item.name.endswith("]") and not item.nodeid.endswith("]"):
            item._id = NodeId.parse(f"{item.nodeid.rpartition('::')[0]}::{item.name}")
        if item.nodeid in seen:
            raise pytest.UsageError(f"two tests have the id {item.nodeid}")
        seen.add(item.nodeid)
        relative = item.path.resolve().relative_to(tests)
        if relative.parts[0] in OWN_DATABASE:
            item.add_marker(pytest.mark.own_database)
        elif item.get_closest_marker("django_db") is None and DATABASE_FIXTURES.isdisjoint(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.no_database)


class Tenant:
    """An organization with one owner, a token, and an API client acting as them."""

    def __init__(self, name: str) -> None:
        self.org: Organization = organization_create(name=name)
        self.user: Any = user_create(
            email=f"owner@{name}.example",
            organization=self.org,
            role=Role.OWNER,
            password="a-long-test-password",
        )
        self.api_token, self.token = token_create(user=self.user, name="tests")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")


@pytest.fixture
def tenant(db: None) -> Tenant:
    return Tenant("acme")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return Tenant("globex")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, and, before it is dropped, the connections that the
    platform's own threads keep open to it: PostgreSQL refuses to drop a database in use."""
    yield
    from scanpulse.events import db
    from scanpulse.scans.executor import reset_executor

    with django_db_blocker.unblock():
        reset_executor()
        db.shutdown()


@pytest.fixture
def _django_db_helper(_django_db_helper: None) -> Iterator[None]:
    """pytest-django's per-test database, and, before it is emptied, the scans that the
    test's requests started on the embedded pool run to their end (a test that does not
    wait for its scan would otherwise race the flush for the tables its worker writes).
    The servers and fixtures the test set up after the database are stopped by then, so a
    scan that needs them ends too."""
    yield
    from scanpulse.scans.executor import reset_executor

    reset_executor(wait=True)


@pytest.fixture(autouse=True)
def _fresh_bus() -> Iterator[None]:
    from scanpulse.events.bus import reset_bus

    reset_bus()
    yield
    reset_bus()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server for this test."""
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def redis_bus(redis: RedisServer, settings: Any) -> RedisServer:
    """Make this test process publish its events on the private Redis, like a worker."""
    from scanpulse.events.bus import reset_bus

    settings.REDIS_URL = redis.url
    settings.SCANPULSE_EVENT_BUS = "scanpulse.events.redis.RedisEventBus"
    reset_bus()
    return redis
