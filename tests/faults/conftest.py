"""One production topology for the fault tests: PostgreSQL (a throwaway database, reached
through a proxy the tests can cut), a private redis-server, two web nodes behind nginx and two
Celery workers. Each test starts from a whole topology and may break any part of it."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import Api
from tests.support.analyzers import PLUGINS, paced_settings
from tests.support.topology import Options, Topology, postgres_admin_url, postgres_available

FAULT_PLUGINS = Path(__file__).resolve().parent / "plugins"

# The paced analyzer takes this long per file: a repository of N files scans in about N/10 s.
SECONDS_PER_FILE = 0.1
# Liveness, shortened so that a lost worker is noticed within a test's patience; see
# docs/reliability.md for what the production defaults (30 s, 10 s) give.
HEARTBEAT_TIMEOUT = 10
HOUSEKEEPING = 1


def require(condition: bool, what: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")


def require_services() -> None:
    require(bool(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")), "nginx")
    require(bool(shutil.which("redis-server")), "redis-server")
    require(postgres_available(), f"PostgreSQL at {postgres_admin_url()}")


def fault_options(env: dict[str, str] | None = None, **options: Any) -> Options:
    """The fault tests' topology: paced analyzers, short liveness, production otherwise."""
    paced = paced_settings(SECONDS_PER_FILE)
    defaults: dict[str, Any] = {
        "web_nodes": 2,
        "workers": 2,
        "worker_concurrency": 2,
        "private_redis": True,
        "behind_tls": True,  # production's HTTPS settings, as behind a TLS load balancer
        # Outside pytest's numbered directories: the tree goes when the topology stops (the
        # tail of every log is printed when a test fails; TOPOLOGY_KEEP=1 keeps it all).
        "keep": bool(os.environ.get("TOPOLOGY_KEEP")),
    }
    return Options(
        **(defaults | options),
        env={
            "SCANPULSE_ANALYZER_PATHS": f"{PLUGINS},{FAULT_PLUGINS}",
            "SCANPULSE_ANALYZERS": "paced:PacedAnalyzer,flood:FloodAnalyzer",
            "SCANPULSE_ANALYZER_OPTIONS": paced["SCANPULSE_ANALYZER_OPTIONS"],
            "SCANPULSE_ANALYZER_WORKERS": "1",
            "SCANPULSE_ANALYZER_TIMEOUT": "120",
            "SCANPULSE_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
            "SCANPULSE_HOUSEKEEPING_SECONDS": str(HOUSEKEEPING),
            "SCANPULSE_CLONE_TIMEOUT": "60",
            # The git host of the cancellation test listens on loopback, refused by default.
            "SCANPULSE_GIT_ALLOWED_NETWORKS": "127.0.0.1/32",
            # One user drives every test; per-token rate limits are not under test here.
            "SCANPULSE_THROTTLE_TOKEN_RATE": "",
            "SCANPULSE_THROTTLE_IP_RATE": "",
            **(env or {}),
        },
    )


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    require_services()
    with Topology(fault_options(database_proxy=True)) as running:
        running.seed_tenant()
        yield running


@pytest.fixture
def whole(topology: Topology, request: pytest.FixtureRequest) -> Iterator[Topology]:
    """The topology with every piece up; on failure, the tail of every log is printed."""
    topology.ensure_running()
    yield topology
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for process in [*topology.webs, *topology.workers]:
            print(f"===== {process.name} =====\n{process.log_tail(6000)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


@pytest.fixture
def api(whole: Topology) -> Iterator[Api]:
    assert whole.seed is not None
    client = Api(whole.url, whole.seed.token)
    yield client
    client.close()


logging.getLogger("httpx").setLevel(logging.WARNING)
