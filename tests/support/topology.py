"""The production topology on one machine: PostgreSQL, Redis, web nodes behind nginx, workers.

Every piece is a real process started the way an operator would start it (``scanpulse serve``,
``scanpulse worker``, nginx rendered by ``scanpulse nginx_config``), with the production
settings module. ``scripts/topology`` is a command-line front to this class; the fault tests
(``tests/faults``) drive it to kill, cut and restart pieces.

Only the standard library and the project's own dependencies are used. Everything the
topology creates lives under one temporary directory, one throwaway database and either a
private redis-server or one Redis database number, and ``stop()`` removes all of it — also the
stray processes a killed worker leaves behind (found by that directory in their environment).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet

from tests.support.analyzers import suite_analyzers
from tests.support.repos import LOCAL_ROOTS_ENV
from tests.support.services import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"  # the start scripts the containers run
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def scanpulse_command() -> str:
    """The ``scanpulse`` entry point of the interpreter running us (the project's venv)."""
    candidate = Path(sys.executable).with_name("scanpulse")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("scanpulse")
    if found is None:
        raise RuntimeError("the scanpulse command is not installed (pip install -e .)")
    return found


def postgres_admin_url() -> str:
    """Where to create throwaway databases: ``TOPOLOGY_POSTGRES_URL``, else the server of
    ``DATABASE_URL`` when it names PostgreSQL, else the local server."""
    explicit = os.environ.get("TOPOLOGY_POSTGRES_URL")
    if explicit:
        return explicit
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://", "pgsql://")):
        return _with_database(configured, "postgres")  # that server's maintenance database
    return DEFAULT_POSTGRES_URL


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _with_address(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _psycopg_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


def postgres_available(url: str | None = None, timeout: int = 3) -> bool:
    import psycopg

    try:
        with psycopg.connect(_psycopg_url(url or postgres_admin_url()), connect_timeout=timeout):
            return True
    except psycopg.Error:
        return False


def create_database(admin: str, *, prefix: str) -> str:
    """A new, empty database on the server of ``admin`` (a PostgreSQL URL); its name."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(_psycopg_url(admin), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(admin: str, name: str) -> None:
    import psycopg

    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(_psycopg_url(admin), autocommit=True, connect_timeout=5) as conn,
    ):
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = postgres_admin_url()
    name = create_database(admin, prefix=prefix)
    try:
        yield _with_database(admin, name)
    finally:
        drop_database(admin, name)


def _parent_death_signal() -> Any:
    """A pre-exec hook that has the kernel SIGKILL the child if we die without cleaning up
    (the harness itself killed); None where that is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; survives the exec of the start script

    return hook


_DIE_WITH_PARENT = _parent_death_signal()


class Process:
    """One long-running process of the topology, in its own session (so that killing it
    kills what it started, like a container or a systemd unit would)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self._log.write(f"--- starting {self.name}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_DIE_WITH_PARENT,  # one foreign call between fork and exec, no locks
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, size: int = 4000) -> str:
        return self.log_text()[-size:]

    def kill(self) -> None:
        """SIGKILL for the process and everything in its session: a crash, no goodbyes."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._finish()

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL for whatever is left after ``timeout``."""
        self.send_terminate()
        self.wait_or_kill(time.monotonic() + timeout)

    def send_terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._finish()

    def _finish(self) -> None:
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def descendants(self) -> set[int]:
        """Every live process started from this one (children, grandchildren…)."""
        if self.process is None:
            return set()
        return descendants_of(self.process.pid)


def descendants_of(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def processes_with_env(predicate: Any) -> dict[int, str]:
    """Live processes of this user whose environment matches ``predicate(env)``: pid → cmdline."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            raw = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if not cmdline:
            continue  # a zombie, or a kernel thread
        env = dict(
            item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item
        )
        if predicate(env):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    return found


@dataclass
class Options:
    """How to build the topology; every field has a sensible default."""

    web_nodes: int = 2
    web_processes: int = 1  # ASGI processes per web node (`serve --workers`)
    workers: int = 2
    worker_concurrency: int = 2
    beat: bool = True  # the one `celery beat` that runs schedules (deploy/start-beat)
    beat_env: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None  # an existing database; default: a throwaway one
    postgres_url: str | None = None  # where to create the throwaway database
    redis_url: str | None = None  # an existing Redis (a db number); default: a private server
    private_redis: bool = True
    database_proxy: bool = False  # route every process's database traffic through a TcpProxy
    nginx: bool = True
    # As behind a TLS load balancer: production's HTTPS redirect and secure cookies stay on,
    # nginx passes X-Forwarded-Proto on, and clients must send "X-Forwarded-Proto: https".
    # Off: plain HTTP on loopback, usable from a browser.
    behind_tls: bool = False
    root: Path | None = None
    keep: bool = False  # leave the directory (logs) behind
    env: dict[str, str] = field(default_factory=dict)  # extra settings for every process
    worker_env: dict[str, str] = field(default_factory=dict)
    web_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Seed:
    organization: str
    email: str
    password: str
    token: str


class Topology:
    """Start with ``start()`` (or as a context manager), stop with ``stop()``."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self.root = Path(
            self.options.root or tempfile.mkdtemp(prefix="scanpulse-topology-")
        ).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs = self.root / "logs"
        self.webs: list[Process] = []
        self.workers: list[Process] = []
        self.beat: Process | None = None
        self.nginx: Process | None = None
        self.nginx_port = 0
        self.redis: Any = None  # tests.support.services.RedisServer when private
        self.redis_url = ""
        self.proxy: Any = None  # tests.support.tcp_proxy.TcpProxy when database_proxy
        self.database_url = ""  # what the processes use (through the proxy, if any)
        self.direct_database_url = ""  # the database itself
        self._created_database: tuple[str, str] | None = None  # (admin url, name)
        self._redis_db_flush: str | None = None
        self.secret_key = secrets.token_urlsafe(50)
        self.seed: Seed | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Topology:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.logs.mkdir(exist_ok=True)
        for name in ("data", "work", "tmp", "nginx"):
            (self.root / name).mkdir(exist_ok=True)
        # Each worker has its own work directory, as on its own machine or container.
        self._started = True
        self._start_redis()
        self._start_database()
        self.migrate()
        for index in range(self.options.web_nodes):
            self.webs.append(self._web_process(index + 1, free_port()))
        for index in range(self.options.workers):
            self.workers.append(self._worker_process(index + 1))
        for process in [*self.webs, *self.workers]:
            process.start()
        for web in self.webs:
            self.wait_web(web)
        for worker in self.workers:
            self.wait_worker(worker)
        if self.options.beat:
            self.beat = self._beat_process()
            self.beat.start()
            self.wait_beat(self.beat)
        if self.options.nginx:
            self._start_nginx()

    def stop(self) -> None:
        """Stop everything and remove what was created; safe to call twice or after a failure."""
        if not self._started:
            return
        self._started = False
        processes = [
            *self.webs,
            *self.workers,
            *([self.beat] if self.beat else []),
            *([self.nginx] if self.nginx else []),
        ]
        for process in processes:
            process.send_terminate()
        deadline = time.monotonic() + 10
        for process in processes:
            process.wait_or_kill(deadline)
        # Scans in flight when a worker died keep their own sessions (analyzers, git).
        for pid in self.stray_processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self.proxy is not None:
            self.proxy.stop()
        self._drop_database()
        if self._redis_db_flush is not None:
            import redis

            with contextlib.suppress(redis.RedisError):
                redis.Redis.from_url(self._redis_db_flush).flushdb()
        if self.redis is not None:
            self.redis.stop()
        if not self.options.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- services --------------------------------------------------------------------------------

    def _start_redis(self) -> None:
        if self.options.redis_url and not self.options.private_redis:
            self.redis_url = self.options.redis_url
            return
        if not self.options.private_redis:
            self.redis_url = self._claim_redis_db()
            return
        from tests.support.services import RedisServer

        (self.root / "redis").mkdir(exist_ok=True)
        self.redis = RedisServer(self.root / "redis")
        self.redis.start()
        self.redis_url = self.redis.url

    def _claim_redis_db(self, base: str = "redis://127.0.0.1:6379") -> str:
        """The first empty database number (1–15) of the local Redis; flushed at stop."""
        import redis

        for number in range(1, 16):
            url = f"{base}/{number}"
            client = redis.Redis.from_url(url)
            # Claimed by setting a key only if no other run set it meanwhile.
            if client.dbsize() == 0 and client.set("scanpulse:topology", os.getpid(), nx=True):
                self._redis_db_flush = url
                return url
        raise RuntimeError("no empty Redis database number on the local Redis; use --redis-url")

    def _start_database(self) -> None:
        if self.options.database_url:
            self.direct_database_url = self.options.database_url
        else:
            admin = self.options.postgres_url or postgres_admin_url()
            name = create_database(admin, prefix="scanpulse_topology")
            self._created_database = (admin, name)
            self.direct_database_url = _with_database(admin, name)
        self.database_url = self.direct_database_url
        if self.options.database_proxy:
            from tests.support.tcp_proxy import TcpProxy

            parts = urlsplit(self.direct_database_url)
            self.proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
            self.database_url = _with_address(
                self.direct_database_url, "127.0.0.1", self.proxy.port
            )

    def _drop_database(self) -> None:
        if self._created_database is None:
            return
        admin, name = self._created_database
        self._created_database = None
        drop_database(admin, name)

    # -- processes -------------------------------------------------------------------------------

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The settings every process gets: production, pointed at this topology's services."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SCANPULSE_", "DJANGO_", "DATABASE_", "REDIS_", "CELERY"))
            and key not in ("SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DEBUG")
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "scanpulse.config.settings.production",
                **suite_analyzers(),
                "SECRET_KEY": self.secret_key,
                "SCANPULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "SCANPULSE_DATA_DIR": str(self.root / "data"),
                "SCANPULSE_WORK_DIR": str(self.root / "work"),
                "TMPDIR": str(self.root / "tmp"),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1,http://127.0.0.1,http://localhost",
                # Local repositories are what the tests and the demo scan.
                "SCANPULSE_ALLOW_LOCAL_REPOS": "true",
                # Never the public OSV feed (its own tests serve one): beat leaves it off.
                "SCANPULSE_OSV_SYNC_INTERVAL_HOURS": "0",
                **LOCAL_ROOTS_ENV,
                "PYTHONUNBUFFERED": "1",
                # The start scripts call `scanpulse`: the one next to this interpreter.
                "PATH": f"{Path(scanpulse_command()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        if not self.options.behind_tls:
            # Plain HTTP on loopback: no TLS terminator in front of this nginx.
            env.update(
                {
                    "SECURE_SSL_REDIRECT": "false",
                    "SESSION_COOKIE_SECURE": "false",
                    "CSRF_COOKIE_SECURE": "false",
                    "SECURE_HSTS_SECONDS": "0",
                }
            )
        env.update(self.options.env)
        env.update(extra or {})
        return env

    def manage(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        """Run ``scanpulse <args>`` against this topology; return its standard output."""
        result = subprocess.run(
            [scanpulse_command(), *args],
            env=self.environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"scanpulse {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def migrate(self) -> None:
        """``deploy/migrate``, as before an upgrade."""
        result = subprocess.run(
            [str(DEPLOY / "migrate")],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations failed:\n{result.stderr[-3000:]}")

    def _web_process(self, index: int, port: int) -> Process:
        """``deploy/start-web``: ``scanpulse serve`` on its own port (no migrations: done
        once before; static files are served from the package without collecting them)."""
        env = {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_PROCESSES": str(self.options.web_processes),
            "SCANPULSE_COLLECTSTATIC": "0",
            **self.options.web_env,
        }
        process = Process(
            f"web{index}",
            [str(DEPLOY / "start-web")],
            self.environment(env),
            self.logs / f"web{index}.log",
        )
        process.port = port  # type: ignore[attr-defined]
        return process

    def _worker_process(self, index: int) -> Process:
        """``deploy/start-worker``: ``scanpulse worker --hostname w<N>@<host>``."""
        env = {
            "WORKER_NAME": f"w{index}",
            "SCANPULSE_WORK_DIR": str(self.root / "work" / f"w{index}"),
            "SCANPULSE_WORKER_CONCURRENCY": str(self.options.worker_concurrency),
            **self.options.worker_env,
        }
        return Process(
            f"w{index}",
            [str(DEPLOY / "start-worker")],
            self.environment(env),
            self.logs / f"w{index}.log",
        )

    def _beat_process(self) -> Process:
        """``deploy/start-beat``: the one ``celery beat`` (django-celery-beat's database
        scheduler), looking at the database every ``BEAT_MAX_INTERVAL`` seconds."""
        env = {"BEAT_MAX_INTERVAL": "5", **self.options.beat_env}
        return Process(
            "beat", [str(DEPLOY / "start-beat")], self.environment(env), self.logs / "beat.log"
        )

    def wait_beat(self, beat: Process, timeout: float = 60) -> None:
        """beat logs ``beat: Starting...`` once it has connected and begins its loop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not beat.alive:
                raise RuntimeError(f"{beat.name} exited:\n{beat.log_tail()}")
            text = beat.log_text()
            if "beat: Starting..." in text[text.rfind(f"--- starting {beat.name}") :]:
                # Its scheduler reads the database and notes its change marker right after
                # saying so; a schedule saved in between is seen at the 5-minute reload only.
                time.sleep(1.0)
                return
            time.sleep(0.1)
        raise TimeoutError(f"{beat.name} did not start:\n{beat.log_tail()}")

    def web_url(self, web: Process) -> str:
        return f"http://127.0.0.1:{web.port}"  # type: ignore[attr-defined]

    def wait_web(self, web: Process, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not web.alive:
                raise RuntimeError(f"{web.name} exited:\n{web.log_tail()}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(self.web_url(web) + "/healthz", timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{web.name} did not become healthy:\n{web.log_tail()}")

    def wait_worker(self, worker: Process, timeout: float = 60) -> None:
        """Celery logs ``<hostname> ready.`` once it consumes from the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.alive:
                raise RuntimeError(f"{worker.name} exited:\n{worker.log_tail()}")
            text = worker.log_text()
            marker = text.rfind(f"--- starting {worker.name}")
            if " ready." in text[marker:]:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{worker.name} did not become ready:\n{worker.log_tail()}")

    def _start_nginx(self) -> None:
        """``deploy/start-nginx``: renders ``scanpulse nginx_config --foreground --prefix …``
        for the web nodes and runs nginx with it."""
        self.nginx_port = free_port()
        upstreams = ",".join(f"127.0.0.1:{web.port}" for web in self.webs)  # type: ignore[attr-defined]
        env = {
            "UPSTREAMS": upstreams,
            "NGINX_LISTEN": f"127.0.0.1:{self.nginx_port}",
            "NGINX_CONNECTIONS": "4096",
            "NGINX_PREFIX": str(self.root / "nginx"),
            "NGINX": shutil.which("nginx") or "/usr/sbin/nginx",
            "NGINX_TRUST_FORWARDED_PROTO": "1" if self.options.behind_tls else "0",
        }
        self.nginx = Process(
            "nginx", [str(DEPLOY / "start-nginx")], self.environment(env), self.logs / "nginx.log"
        )
        self.nginx.start()
        wait_for_port(self.nginx_port, timeout=30)

    # -- what users and operators see ------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where users connect: nginx, or the first web node when there is no nginx."""
        if self.nginx is not None:
            return f"http://127.0.0.1:{self.nginx_port}"
        return self.web_url(self.webs[0])

    def seed_tenant(
        self, organization: str = "topology", email: str = "owner@topology.example"
    ) -> Seed:
        """An organization with an owner, a password and an API token (printed once); the
        first one seeded is the topology's ``seed``."""
        password = secrets.token_urlsafe(12)
        result = subprocess.run(
            [sys.executable, "-c", _SEED, organization, email, password],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{result.stderr[-3000:]}")
        seed = Seed(organization, email, password, result.stdout.strip().splitlines()[-1])
        self.seed = self.seed or seed
        return seed

    # -- faults ----------------------------------------------------------------------------------

    def restart(self, process: Process) -> None:
        """Start a stopped or killed process again, the same way, and wait until it serves."""
        if process.alive:
            process.terminate()
        process.start()
        if process in self.webs:
            self.wait_web(process)
        elif process in self.workers:
            self.wait_worker(process)
        elif process is self.beat:
            self.wait_beat(process)

    def ensure_running(self) -> None:
        """Bring back whatever a test stopped: the database proxy, Redis, and every process."""
        if self.proxy is not None and self.proxy.is_down:
            self.proxy.restore()
        if self.redis is not None and (self.redis.process is None or self.redis.process.poll()):
            self.redis.start()
        for process in [*self.webs, *self.workers, *([self.beat] if self.beat else [])]:
            if not process.alive:
                self.restart(process)

    def worker_running(self, pid: int) -> Process | None:
        """The worker whose process tree contains ``pid``."""
        for worker in self.workers:
            if worker.pid == pid or pid in worker.descendants():
                return worker
        return None

    def workspaces(self) -> list[Path]:
        """Checkouts on the workers' disks (``work/<worker>/scan-<pid>-…``)."""
        return sorted((self.root / "work").glob("*/scan-*"))

    def scan_processes(self) -> dict[int, str]:
        """Processes working for scans — git and analyzers: their HOME is a scan's private
        directory under this topology."""
        prefix = str(self.root) + os.sep
        return processes_with_env(lambda env: env.get("HOME", "").startswith(prefix))

    def stray_processes(self) -> dict[int, str]:
        """Every process this topology started that is still alive, whoever its parent is."""
        marker = str(self.root)
        return processes_with_env(
            lambda env: (
                env.get("SCANPULSE_DATA_DIR") == str(self.root / "data")
                or env.get("HOME", "").startswith(marker + os.sep)
                or env.get("TMPDIR") == str(self.root / "tmp")
            )
        )


_SEED = """
import sys
import django

django.setup()
from scanpulse.tenancy.models import Role
from scanpulse.tenancy.services import organization_create, token_create, user_create

org = organization_create(name=sys.argv[1])
user = user_create(email=sys.argv[2], organization=org, role=Role.OWNER, password=sys.argv[3])
print(token_create(user=user, name="topology")[1])
"""


@contextlib.contextmanager
def topology(options: Options | None = None) -> Iterator[Topology]:
    with Topology(options) as running:
        yield running
