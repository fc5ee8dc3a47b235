"""Real services for the integration tests: a private Redis we may restart, server processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.repos import LOCAL_ROOTS_ENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


class RedisServer:
    """A real redis-server on its own port, so tests can stop and restart it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServerProcess:
    """``scanpulse serve`` as a real process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        scanpulse = str(Path(sys.executable).with_name("scanpulse"))
        started_before = self._times_listening()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [scanpulse, "serve", "--no-migrate", "--port", str(self.port), *extra],
            env={**self.env, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        # Generous: on a shared machine under load, the first import of Django and the
        # analyzers alone can take half a minute.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            # Ready once it answers and has said so: it says so after starting its background
            # work (resuming interrupted scans), which must not see what a test creates next.
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(self.url + "/healthz", timeout=1).status_code == 200
                    and self._times_listening() > started_before
                ):
                    return
            time.sleep(0.1)
        self.kill()  # never left running behind the test
        raise TimeoutError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def _times_listening(self) -> int:
        if not self.log_path.exists():
            return 0
        return self.log_path.read_bytes().count(b"scanpulse listening on ")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self._log.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self._log.close()


def suite_database_url() -> str:
    """The URL of the database this test run uses (the test database, not the configured one)."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


class ServerFactory:
    """Starts ``scanpulse serve`` processes on this run's test database, each with its own
    data directory under ``root``; as a context manager, kills them all at the end."""

    def __init__(self, root: Path, **defaults: str) -> None:
        self.root = root
        self.defaults = defaults
        self.started: list[ServerProcess] = []

    def __call__(self, *args: str, **env: str | None) -> ServerProcess:
        """A started server with ``env`` on top of the defaults (``None`` removes a variable),
        ``args`` added to ``scanpulse serve``."""
        index = len(self.started)
        environment: dict[str, str | None] = {
            **{
                name: value
                for name, value in os.environ.items()
                if name != "DJANGO_SETTINGS_MODULE"
            },
            "DATABASE_URL": suite_database_url(),
            "SCANPULSE_DATA_DIR": str(self.root / f"server{index}"),
            "SCANPULSE_SCAN_EXECUTOR": "scanpulse.scans.executors.inprocess.InProcessExecutor",
            **LOCAL_ROOTS_ENV,
            **self.defaults,
            **env,  # may choose the settings module (the embedded one by default)
        }
        server = ServerProcess(
            {name: value for name, value in environment.items() if value is not None},
            self.root / f"server{index}.log",
        )
        server.start(*args)
        self.started.append(server)
        return server

    def __enter__(self) -> ServerFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.started:
            server.kill()


def _traversable_by_workers(directory: Path) -> None:
    """Started as root, nginx runs its workers as an unprivileged user, which writes request
    bodies larger than its buffer to the prefix's ``client_body`` directory: it must be able to
    pass through the (private, 0700) temporary directories above it. Only traversal is added."""
    for path in (directory, *directory.parents):
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            path.chmod(mode | stat.S_IXOTH)


class NginxProcess:
    """A real nginx (Debian's package) in front of scanpulse, with its own prefix and port."""

    def __init__(
        self, workdir: Path, upstreams: list[str], read_timeout: str = "1h", **options: Any
    ) -> None:
        """``options``: more of ``scanpulse.core.nginx.render``'s (``metrics_allow``, …)."""
        from scanpulse.core.nginx import render

        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _traversable_by_workers(workdir)
        self.config = workdir / "nginx.conf"
        self.config.write_text(
            render(
                upstreams=upstreams,
                listen=f"127.0.0.1:{self.port}",
                read_timeout=read_timeout,
                connections=1024,
                prefix=str(workdir),
                foreground=True,
                **options,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [binary, "-p", str(self.workdir), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
