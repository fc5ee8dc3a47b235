"""Streams through a real nginx, configured by ``scanpulse nginx_config``."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from scanpulse.projects.models import Project
from scanpulse.scans.log import append_event
from scanpulse.scans.models import Scan
from tests.support.services import NginxProcess
from tests.support.sse import StreamReader

pytestmark = pytest.mark.services


@pytest.fixture
def nginx_binary() -> str:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if binary is None:
        if os.environ.get("CI"):
            raise RuntimeError("nginx must be installed in CI (scripts/system-deps)")
        pytest.skip("nginx is not installed (scripts/system-deps installs it)")
    return binary


@pytest.fixture
def scan(tenant, tmp_path) -> Scan:
    project = Project.objects.create(organization=tenant.org, name="p", repo_url=str(tmp_path))
    return Scan.objects.create(
        project=project, organization=tenant.org, ref="main", status="running"
    )


def proxied(
    servers, redis_bus, tmp_path: Path, *, heartbeat: str, read_timeout: str
) -> NginxProcess:
    env = {"REDIS_URL": redis_bus.url, "SCANPULSE_SSE_HEARTBEAT_SECONDS": heartbeat}
    upstreams = [f"127.0.0.1:{servers(**env).port}", f"127.0.0.1:{servers(**env).port}"]
    nginx = NginxProcess(tmp_path / "nginx", upstreams, read_timeout=read_timeout)
    nginx.start()
    return nginx


@contextmanager
def open_stream(nginx: NginxProcess, scan: Scan, token: str) -> Iterator[StreamReader]:
    with (
        httpx.Client(timeout=httpx.Timeout(30, connect=5)) as client,
        client.stream(
            "GET",
            f"{nginx.url}/api/scans/{scan.id}/progress",
            headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "0"},
        ) as response,
    ):
        yield StreamReader(response)


def test_events_arrive_through_nginx_unbuffered(
    nginx_binary, servers, redis_bus, tenant, scan, tmp_path
) -> None:
    nginx = proxied(servers, redis_bus, tmp_path, heartbeat="15", read_timeout="60s")
    try:
        with open_stream(nginx, scan, tenant.token) as reader:
            assert reader.response.headers["content-type"] == "text/event-stream"
            reader._pump()  # the ": connected" comment arrives before any event
            latencies = []
            for index in range(5):
                started = time.monotonic()
                append_event(scan_id=scan.id, kind="log", data={"message": f"m{index}"})
                event = reader.next_event()
                latencies.append(time.monotonic() - started)
                assert (
                    event is not None and json.loads(event.data)["data"]["message"] == f"m{index}"
                )
            # A buffering proxy would hold small frames back (4–8 KiB buffers) indefinitely.
            assert max(latencies) < 1.0, latencies
    finally:
        nginx.stop()


def test_heartbeats_keep_an_idle_stream_open_past_the_proxy_timeout(
    nginx_binary, servers, redis_bus, tenant, scan, tmp_path
) -> None:
    nginx = proxied(servers, redis_bus, tmp_path, heartbeat="0.5", read_timeout="2s")
    try:
        with open_stream(nginx, scan, tenant.token) as reader:
            deadline = time.monotonic() + 5  # idle for 2.5 × nginx's read timeout
            while time.monotonic() < deadline:
                assert reader._pump(), "nginx closed the idle stream"
            assert reader.parser.comments.count("heartbeat") >= 6
            append_event(scan_id=scan.id, kind="log", data={"message": "still here"})
            event = reader.next_event()
            assert event is not None and json.loads(event.data)["data"]["message"] == "still here"
    finally:
        nginx.stop()


def test_without_heartbeats_nginx_would_cut_the_stream(
    nginx_binary, servers, redis_bus, tenant, scan, tmp_path
) -> None:
    # The control experiment: the read timeout is real, so the heartbeat is what keeps streams up.
    nginx = proxied(servers, redis_bus, tmp_path, heartbeat="30", read_timeout="2s")
    try:
        started = time.monotonic()
        with (
            open_stream(nginx, scan, tenant.token) as reader,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            while reader._pump():
                pass
        assert 1.5 < time.monotonic() - started < 10
    finally:
        nginx.stop()


# --- /metrics is for monitoring -------------------------------------------------------------------

# Spellings of /metrics that nginx normalizes before it picks a location, and an upstream
# receives as sent: each must meet the same refusal.
METRICS_SPELLINGS = ["/metrics", "/metrics?format=text", "//metrics", "/%6Detrics", "/x/../metrics"]


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """A request for exactly ``target``, which HTTP clients would normalize first."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    status = int(response.split(b" ", 2)[1])
    return status, response.partition(b"\r\n\r\n")[2]


def test_metrics_are_not_proxied_to_the_world(
    nginx_binary, servers, tenant, scan, tmp_path
) -> None:
    server = servers()
    nginx = NginxProcess(tmp_path / "nginx", [f"127.0.0.1:{server.port}"])
    nginx.start()
    try:
        for target in METRICS_SPELLINGS:
            status, body = raw_get(nginx.url, target)
            assert status == 403, (target, status)
            assert b"scanpulse_" not in body, target
        # The process itself answers its own machine (where a scraper would run), and the
        # rest of the site goes through nginx as before, with the pages' security headers.
        assert httpx.get(f"{server.url}/metrics").text.startswith("# HELP")
        health = httpx.get(f"{nginx.url}/healthz")
        refused = httpx.get(f"{nginx.url}/api/scans/{scan.id}/progress")
        for response in (health, refused):
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
        assert (health.status_code, refused.status_code) == (200, 401)
    finally:
        nginx.stop()


def test_metrics_through_nginx_only_from_the_allowed_networks(
    nginx_binary, servers, tmp_path
) -> None:
    server = servers()
    allowed = NginxProcess(
        tmp_path / "allowed", [f"127.0.0.1:{server.port}"], metrics_allow=["127.0.0.0/8"]
    )
    elsewhere = NginxProcess(
        tmp_path / "elsewhere", [f"127.0.0.1:{server.port}"], metrics_allow=["10.0.0.0/8"]
    )
    for nginx in (allowed, elsewhere):
        nginx.start()
    try:
        assert httpx.get(f"{allowed.url}/metrics").text.startswith("# HELP")
        assert httpx.get(f"{elsewhere.url}/metrics").status_code == 403
    finally:
        for nginx in (allowed, elsewhere):
            nginx.stop()


def test_the_template_takes_networks_only(tmp_path) -> None:
    from scanpulse.core.nginx import render

    with pytest.raises(ValueError):
        render(upstreams=["web1:8000"], metrics_allow=["10.0.0.0/8; allow all"])


def test_the_shipped_example_is_the_template() -> None:
    from scanpulse.core.nginx import render

    shipped = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
    assert shipped.read_text() == render(upstreams=["web1:8000", "web2:8000"])


def test_a_sarif_report_larger_than_other_bodies_passes_nginx_and_only_there(
    nginx_binary, servers, tenant, scan, tmp_path
) -> None:
    # given: a real server behind nginx, and a valid report of 3 MB (over the 1 MB of the rest)
    server = servers()
    nginx = NginxProcess(tmp_path / "nginx", [f"127.0.0.1:{server.port}"])
    nginx.start()
    report = json.loads(
        (Path(__file__).resolve().parents[1] / "fixtures/sarif-reports/trivy.sarif").read_text()
    )
    report["runs"][0]["properties"] = {"padding": "x" * (3 * 1024 * 1024)}
    body = json.dumps(report).encode()
    headers = {"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/sarif+json"}
    try:
        # when / then: the upload route takes it (a scan is started) ...
        uploaded = httpx.post(
            f"{nginx.url}/api/projects/{scan.project_id}/sarif",
            content=body,
            headers=headers,
            timeout=60,
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["trigger"] == "sarif"
        # ... and any other route still refuses such a body at nginx
        elsewhere = httpx.post(
            f"{nginx.url}/api/scans/{scan.id}/cancel", content=body, headers=headers, timeout=60
        )
        assert elsewhere.status_code == 413
        assert "nginx" in elsewhere.text  # refused by nginx, before the application
    finally:
        nginx.stop()


def _stream_location(config: str) -> str:
    start = config.index("location ~ ^/api/(scans/[^/]+/progress|stream)/?$")
    return config[start : config.index("}", start)]


def test_the_default_configuration_holds_ten_thousand_streams_in_one_worker() -> None:
    """What 10,000 streams through one nginx need (docs/benchmarks.md, through nginx)."""
    from scanpulse.core.nginx import render

    config = render(upstreams=["web1:8000", "web2:8000"])
    connections = int(re.search(r"worker_connections (\d+);", config)[1])  # type: ignore[index]
    rlimit = int(re.search(r"worker_rlimit_nofile (\d+);", config)[1])  # type: ignore[index]
    # a stream is two connections, and one worker may hold them all
    assert connections >= 2 * 10_000
    assert rlimit >= 2 * connections
    # a reconnect storm of every stream does not overflow nginx's default backlog of 511
    assert "listen 80 backlog=4096;" in config
    stream = _stream_location(config)
    assert "proxy_buffering off;" in stream
    assert "gzip off;" in stream
    assert "proxy_read_timeout 1h;" in stream
    assert "proxy_http_version 1.1;" in config
    assert 'proxy_set_header Connection "";' in config
    assert "keepalive 128;" in config


def test_the_limits_follow_the_connections_asked_for(capsys) -> None:
    from django.core.management import call_command

    call_command(
        "nginx_config",
        "--upstream",
        "web1:8000",
        "--listen",
        "127.0.0.1:8080",
        "--connections",
        "4096",
        "--backlog",
        "1024",
    )
    config = capsys.readouterr().out
    assert "worker_connections 4096;" in config
    assert "worker_rlimit_nofile 9216;" in config  # 2 × 4096 + 1024
    assert "4096 holds 2,048 streams in one worker" in config
    assert "listen 127.0.0.1:8080 backlog=1024;" in config
