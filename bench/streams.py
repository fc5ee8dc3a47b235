"""Live streams at 10,000 viewers: scanpulse's SSE path against its targets and two baselines.

One run, on one machine, measures:

1. **scanpulse** — two server processes (``uvicorn scanpulse.config.asgi:application``, one
   per port, so each process's ``/metrics`` can be read) sharing a private ``redis-server`` and
   a throwaway PostgreSQL database. N clients (default 10,000: 100 scans × 100 viewers, half
   on each process) open ``GET /api/scans/{id}/progress`` with a bearer token. A publisher
   process appends 1 event/s to every scan *through the real log*
   (``scanpulse.scans.log.append_event``: transaction, commit, Redis), spread evenly over
   the second, so every stream gets 1 event/s. Measured: time to accept every stream; server
   RSS per stream and threads; deliveries/s; publish→receive latency (from the event's
   ``time``, the append time, on the same clock); lost / duplicated / out-of-order events
   (every client checks that ``id:`` numbers are consecutive); a reconnect storm (all clients
   drop at once and resume with ``Last-Event-ID`` while publishing continues) with the SQL
   calls it caused; and 10,000 abrupt disconnects (RST) until the servers hold no stream.
2. **the seed design** (``bench/streams/seed_app.py``): one Redis connection and pub/sub per
   stream, served the same way; how many streams it accepts within a time limit, at what RSS,
   threads and Redis connections.
3. **short polling** every 3 s against ``GET /api/scans/{id}/status`` (with ``ETag``) by the
   same number of clients: server CPU and staleness (age of the newest event when a poller
   first sees it).

The load generators are 1–2 processes of asyncio protocols on raw sockets (stdlib + uvloop,
which uvicorn[standard] already installs): minimal HTTP/1.1, chunked SSE parsed incrementally.

Usage (from the repository root)::

    .venv/bin/python bench/streams.py            # 10,000 clients, about 5 minutes
    .venv/bin/python bench/streams.py --quick    # 1,000 clients, a smoke run (~1.5 minutes)

Everything (temporary directory, redis-server, the database, every process) is removed at the
end, also on Ctrl-C. See bench/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import platform
import random
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HELPERS = Path(__file__).resolve().parent / "streams"
HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# The targets.
TARGET_KB_PER_STREAM = 32
TARGET_THREADS = 50
TARGET_P99_MS = 25
TARGET_STORM_S = 10
TARGET_CLEANUP_S = 3
# The next-scale targets: through nginx (p99, storm) and at 30,000 streams (memory, p99, storm, cleanup).
NGINX_TARGETS = {"p99_ms": 25.0, "storm_s": 10.0}
SCALE_CLIENTS = 30_000
SCALE_TARGETS = {"kb": 16.0, "p99_ms": 10.0, "storm_s": 12.0, "cleanup_s": 3.0}


def targets(args: argparse.Namespace) -> dict[str, float]:
    """The targets a run is held to: the design record's, through nginx the next-scale targets for the
    proxy, and above 10,000 clients those for 30,000 streams."""
    found = {
        "kb": float(TARGET_KB_PER_STREAM),
        "threads": float(TARGET_THREADS),
        "p99_ms": float(TARGET_P99_MS),
        "storm_s": float(TARGET_STORM_S),
        "cleanup_s": float(TARGET_CLEANUP_S),
    }
    if args.clients > 10_000:
        found.update(SCALE_TARGETS)
    if args.nginx:
        found["p99_ms"] = min(found["p99_ms"], NGINX_TARGETS["p99_ms"])
        found["storm_s"] = min(found["storm_s"], NGINX_TARGETS["storm_s"])
    return found


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# =============================================================================================
# Load generator (a child process: stdlib + uvloop only, no Django)
# =============================================================================================

LAT_BUCKET_MS = 0.1  # latency histograms: 0.1 ms buckets


def _rst(transport: Any) -> None:
    """Close abruptly: SO_LINGER 0 makes the kernel send RST instead of FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux


async def connect_from(loop: asyncio.AbstractEventLoop, source: str, port: int) -> socket.socket:
    """A TCP connection to HOST:port from the local address ``source``. The port is chosen at
    connect(), not at bind(): a plain bind(source, 0) takes a port no other socket holds, on
    any address, and runs out after about 14,000 connections whatever the source address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        await loop.sock_connect(sock, (HOST, port))
    except BaseException:
        sock.close()
        raise
    return sock


class StreamClient(asyncio.Protocol):
    """One SSE viewer. The same object serves every connection of that viewer, so a viewer
    costs one small object plus the transport, and the cursor survives reconnections."""

    __slots__ = (
        "buf",
        "closing",
        "fresh",
        "gen",
        "last",
        "left",
        "opened",
        "path",
        "port",
        "source",
        "sse",
        "state",
        "transport",
        "waiter",
        "want_open",
    )

    def __init__(
        self, gen: Generator, port: int, path: str, last: int = 0, source: str = ""
    ) -> None:
        self.gen = gen
        self.port = port
        self.path = path
        self.source = source  # local address to connect from ("" = the kernel's choice)
        self.transport: Any = None
        self.buf = b""
        self.sse = b""
        self.state = 0  # 0 headers, 1 chunk size, 2 chunk data, 3 chunk CRLF, 4 ended
        self.left = 0
        self.last = last  # highest event number received (or the page's last_event_id)
        self.opened = False
        self.closing = False  # we closed it on purpose: do not reconnect by ourselves
        self.want_open = True
        self.fresh = False  # reconnected in a storm, no event received since
        self.waiter: asyncio.Future[bool] | None = None

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.state = 0
        self.buf = self.sse = b""
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Authorization: Bearer {self.gen.token}\r\nAccept: text/event-stream\r\n"
        )
        if self.last and self.gen.resume:
            request += f"Last-Event-ID: {self.last}\r\n"
        transport.write((request + "\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        was_open = self.opened
        if was_open:
            self.opened = False
            self.gen.open -= 1
        self._resolve(False)
        if self.closing:
            self.closing = False
            return
        if was_open and self.want_open:
            # The server ended the stream: reconnect, as EventSource would.
            self.gen.server_closed += 1
            self.gen.spawn(self.gen.open_client(self, time.monotonic() + 3600))

    def _resolve(self, ok: bool) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(ok)

    def abort(self) -> None:
        if self.transport is not None:
            self.closing = True
            _rst(self.transport)

    # -- parsing ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        gen = self.gen
        gen.now = time.time()
        gen.mono = time.monotonic()
        if self.state == 0:
            buf = self.buf + data if self.buf else data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self.buf = b""
            status = int(buf[9:12])
            if status != 200:
                gen.errors[f"HTTP {status}"] += 1
                self._resolve(False)
                self.abort()
                return
            self.state = 1
            self.opened = True
            gen.open += 1
            self._resolve(True)
            data = buf[end + 4 :]
            if not data:
                return
        buf = self.buf + data if self.buf else data
        pos, size = 0, len(buf)
        while pos < size:
            state = self.state
            if state == 2:
                take = min(self.left, size - pos)
                self._feed(buf[pos : pos + take])
                pos += take
                self.left -= take
                if not self.left:
                    self.state, self.left = 3, 2
            elif state == 1:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                length = int(buf[pos:eol], 16)
                pos = eol + 2
                if length == 0:
                    self.state = 4  # the server ended the response
                    break
                self.state, self.left = 2, length
            elif state == 3:
                take = min(self.left, size - pos)
                pos += take
                self.left -= take
                if not self.left:
                    self.state = 1
            else:
                break
        self.buf = buf[pos:] if pos < size and self.state != 4 else b""

    def _feed(self, chunk: bytes) -> None:
        text = self.sse + chunk if self.sse else chunk
        start = 0
        while True:
            end = text.find(b"\n\n", start)
            if end < 0:
                break
            if text[start] != 58:  # ":" starts a comment block (connected, heartbeat)
                self._block(text[start:end])
            start = end + 2
        self.sse = text[start:] if start < len(text) else b""

    def _block(self, block: bytes) -> None:
        number = None
        data = b""
        for line in block.split(b"\n"):
            if line.startswith(b"id: "):
                number = int(line[4:])
            elif line.startswith(b"data: "):
                data = line
        if number is not None:
            self.gen.on_event(self, number, data)
        elif data:  # the seed design's frames carry no id
            self.gen.on_data(data)


class PollClient:
    """One short-polling viewer: a keep-alive connection, ``GET /status`` every interval."""

    def __init__(
        self, gen: Generator, port: int, path: str, last: int = 0, source: str = ""
    ) -> None:
        self.gen = gen
        self.port = port
        self.path = path
        self.source = source
        self.last = last
        self.etag = b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        if self.source:
            sock = await connect_from(asyncio.get_running_loop(), self.source, self.port)
            self.reader, self.writer = await asyncio.open_connection(sock=sock)
        else:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def request(self) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Authorization: Bearer {self.gen.token}\r\nAccept: application/json\r\n"
        )
        if self.etag:
            request += f"If-None-Match: {self.etag.decode()}\r\n"
        self.writer.write((request + "\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"etag":
                self.etag = value
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = True
            elif name == b"connection" and value.lower() == b"close":
                close = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                body += (await self.reader.readexactly(size + 2))[:size]
                if size == 0:
                    break
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            self._close()
        return status, body

    async def run(self, interval: float) -> None:
        gen = self.gen
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.uniform(0, interval)
        # What this viewer knows: the page showed the scan at `last` when polling started.
        seen, seen_at = self.last, time.time()
        answered = False
        while gen.polling:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                async with gen.sem:
                    started = loop.time()
                    status, body = await asyncio.wait_for(self.request(), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                gen.errors[type(exc).__name__] += 1
                self._close()
                await asyncio.sleep(0.5)
                next_at = loop.time()
                continue
            now = time.time()
            if gen.measuring:
                gen.requests += 1
                gen.statuses[status] += 1
                gen.record(gen.hist_response, (loop.time() - started) * 1000)
                if status in (200, 304) and not answered:
                    answered = True
                    gen.answered += 1
            if status == 200:
                # The snapshot's step carries the append time of the scan's newest event; the
                # events since the last one this viewer saw came 1/rate apart in between.
                # Staleness of each: how long after it was appended this viewer learnt of it.
                snapshot = json.loads(body)
                step, number = snapshot.get("step", ""), snapshot.get("last_event_id", 0)
                if step.startswith("bench ") and number > seen:
                    newest_at = float(step[6:])
                    if gen.measuring:
                        count = number - seen
                        for index in range(1, count + 1):
                            appended = seen_at + (newest_at - seen_at) * index / count
                            gen.record(gen.hist, (now - appended) * 1000)
                    seen, seen_at = number, newest_at
            next_at += interval
            if next_at < loop.time():
                next_at = loop.time()
                if gen.measuring:
                    gen.late += 1


class Generator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.loop = asyncio.get_running_loop()
        self.token: str = config["token"]
        self.resume: bool = config.get("resume", True)
        self.sem = asyncio.Semaphore(config["concurrency"])
        self.tasks: set[asyncio.Task[Any]] = set()
        self.now = 0.0
        self.mono = 0.0
        self.open = 0
        self.server_closed = 0
        self.errors: Counter[str] = Counter()
        self.events = 0
        self.lost = self.duplicated = self.out_of_order = 0
        self.measuring = False
        self.delivered = 0
        self.hist: Counter[int] = Counter()  # latency or staleness, 0.1 ms buckets
        self.hist_append: Counter[int] = Counter()
        self.time_cache: dict[bytes, float] = {}
        self.caught = 0
        self.last_caught = 0.0
        self.last_open = 0.0
        # polling
        self.polling = False
        self.requests = 0
        self.answered = 0
        self.late = 0
        self.statuses: Counter[int] = Counter()
        self.hist_response: Counter[int] = Counter()
        if config["mode"] == "sse":
            self.clients: list[Any] = [StreamClient(self, *client) for client in config["clients"]]
        else:
            self.clients = [PollClient(self, *client) for client in config["clients"]]

    def spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    def record(hist: Counter[int], milliseconds: float) -> None:
        hist[int(max(0.0, milliseconds) / LAT_BUCKET_MS)] += 1

    def on_event(self, client: StreamClient, number: int, data: bytes) -> None:
        last = client.last
        if number == last + 1:
            client.last = number
        elif number > last:
            self.lost += number - last - 1
            client.last = number
        elif number == last:
            self.duplicated += 1
        else:
            self.out_of_order += 1
        self.events += 1
        if client.fresh:
            client.fresh = False
            self.caught += 1
            self.last_caught = self.now
        if self.measuring:
            self.on_data(data)
            # append -> receive: the event's own "time", taken before the DB transaction
            start = data.find(b'"time":"')
            if start >= 0:
                end = data.find(b'"', start + 8)
                key = data[start + 8 : end]
                appended = self.time_cache.get(key)
                if appended is None:
                    if len(self.time_cache) > 10_000:
                        self.time_cache.clear()
                    appended = datetime.fromisoformat(key.decode()).timestamp()
                    self.time_cache[key] = appended
                self.record(self.hist_append, (self.now - appended) * 1000)

    def on_data(self, data: bytes) -> None:
        if not self.measuring:
            return
        self.delivered += 1
        # publish -> receive: the publisher's monotonic clock right before XADD (after commit)
        start = data.find(b'"bench_published":')
        if start >= 0:
            stop = data.find(b"}", start)
            self.record(self.hist, (self.mono - float(data[start + 18 : stop])) * 1000)

    async def open_client(self, client: StreamClient, deadline: float) -> bool:
        delay = 0.25
        while client.want_open and time.monotonic() < deadline:
            while client.transport is not None:  # noqa: ASYNC110 - its close is one tick away
                await asyncio.sleep(0.01)
            async with self.sem:
                left = deadline - time.monotonic()
                if left <= 0:  # waited for a turn past the deadline: no new attempt
                    break
                waiter = client.waiter = self.loop.create_future()
                try:
                    if client.source:
                        sock = await connect_from(self.loop, client.source, client.port)
                        await self.loop.create_connection(lambda: client, sock=sock)
                    else:
                        await self.loop.create_connection(lambda: client, HOST, client.port)
                    ok = await asyncio.wait_for(waiter, min(30.0, max(1.0, left)))
                except (OSError, TimeoutError) as exc:
                    self.errors[type(exc).__name__] += 1
                    client.waiter = None
                    if client.transport is not None:
                        client.abort()
                    ok = False
            if ok:
                self.last_open = time.time()
                return True
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 2.0)
        return False

    async def connect_all(self, deadline_s: float) -> dict[str, Any]:
        started = time.time()
        deadline = time.monotonic() + deadline_s
        results = await asyncio.gather(*(self.open_client(c, deadline) for c in self.clients))
        return {
            "started": started,
            "finished": time.time(),
            "opened": sum(results),
            "last_open": self.last_open,
        }

    async def storm(self, limit: float) -> dict[str, Any]:
        """Every stream drops at once (RST) and resumes with Last-Event-ID."""
        started = time.time()
        victims = [c for c in self.clients if c.opened]
        self.caught = 0
        for client in victims:
            client.fresh = True
            client.abort()
        await asyncio.sleep(0)
        deadline = time.monotonic() + limit
        results = await asyncio.gather(*(self.open_client(c, deadline) for c in victims))
        while self.caught < len(victims) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return {
            "started": started,
            "dropped": len(victims),
            "reopened": sum(results),
            "reopened_at": self.last_open,
            "caught": self.caught,
            "caught_at": self.last_caught,
        }

    def kill(self) -> dict[str, Any]:
        started = time.time()
        for client in self.clients:
            client.want_open = False
            client.abort()
        return {"started": started, "open_after": self.open}

    async def poll(self, interval: float) -> None:
        self.polling = True
        for client in self.clients:
            self.spawn(client.run(interval))

    def stats(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "events": self.events,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "out_of_order": self.out_of_order,
            "server_closed": self.server_closed,
            "errors": dict(self.errors),
            "hist": {str(k): v for k, v in self.hist.items()},
            "hist_append": {str(k): v for k, v in self.hist_append.items()},
            "requests": self.requests,
            "answered": self.answered,
            "late": self.late,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "hist_response": {str(k): v for k, v in self.hist_response.items()},
            "cpu": sum(os.times()[:2]),
        }

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command["cmd"]
        if name == "connect":
            return await self.connect_all(command["deadline"])
        if name == "measure":
            self.measuring = command["on"]
            if self.measuring:
                self.delivered = self.requests = self.late = self.answered = 0
                self.hist.clear()
                self.hist_append.clear()
                self.hist_response.clear()
                self.statuses.clear()
            return {"at": time.time()}
        if name == "stats":
            return self.stats()
        if name == "storm":
            return await self.storm(command["limit"])
        if name == "kill":
            return self.kill()
        if name == "poll":
            await self.poll(command["interval"])
            return {}
        if name == "stop_poll":
            self.polling = False
            for task in list(self.tasks):
                task.cancel()
            for client in self.clients:
                client._close()
            return {}
        raise ValueError(name)


async def _generator_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    gen = Generator(config)
    out = sys.stdout
    out.write(json.dumps({"ready": len(gen.clients)}) + "\n")
    out.flush()
    while True:
        line = await reader.readline()
        if not line:
            return
        command = json.loads(line)
        if command["cmd"] == "exit":
            return
        reply = await gen.command(command)
        out.write(json.dumps(reply) + "\n")
        out.flush()


def generator_role() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_generator_main())


# =============================================================================================
# Django-side roles: set-up and publisher (children with the server's environment)
# =============================================================================================


def setup_role(scans: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from scanpulse.projects.models import Project
    from scanpulse.scans.models import Scan
    from scanpulse.tenancy.models import Role
    from scanpulse.tenancy.services import organization_create, token_create, user_create

    org = organization_create(name="bench")
    user = user_create(email="viewer@bench.example", organization=org, role=Role.OWNER)
    _api_token, token = token_create(user=user, name="bench")
    project = Project.objects.create(
        organization=org, name="bench", repo_url="https://example.invalid/bench.git"
    )
    ids = [
        str(Scan.objects.create(project=project, organization=org, ref="main", status="running").id)
        for _ in range(scans)
    ]
    print(json.dumps({"token": token, "org": str(org.id), "scans": ids}), flush=True)


def publisher_role(rate: float, threads: int = 2) -> None:
    """Append ``rate`` events per second to every scan through the real log, evenly spread
    over the second; commands (start/stop/exit) on stdin, one JSON reply per command."""
    import django

    django.setup()
    from scanpulse.events.bus import get_bus
    from scanpulse.scans.log import append_event

    # Stamp the moment of publishing (after the commit, right before XADD) into the bus
    # message, so clients can measure publish -> receive on the machine's monotonic clock.
    # Only live frames carry it; the log itself is what append_event wrote.
    bus = get_bus()
    bus_publish = bus.publish

    def stamped_publish(message: dict[str, Any]) -> None:
        if message.get("type") == "event":
            message = {**message, "data": {**message["data"], "bench_published": time.monotonic()}}
        bus_publish(message)

    bus.publish = stamped_publish  # type: ignore[method-assign]

    scans: list[str] = json.loads(sys.stdin.readline())["scans"]
    running = threading.Event()
    quit_ = threading.Event()
    stats: dict[str, Any] = {}
    lock = threading.Lock()

    def reset() -> None:
        stats.update(appended=0, failed=0, late_ms=[], append_ms=[], started=time.time())

    reset()

    def commands() -> None:
        for line in sys.stdin:
            command = json.loads(line)["cmd"]
            with lock:
                if command == "start":
                    reset()
                    running.set()
                    reply: dict[str, Any] = {}
                elif command == "stats":
                    reply = _publisher_summary(stats)
                elif command == "stop":
                    running.clear()
                    reply = _publisher_summary(stats)
                else:
                    quit_.set()
                    running.set()
                    return
            print(json.dumps(reply), flush=True)
        quit_.set()
        running.set()

    threading.Thread(target=commands, daemon=True).start()
    running.wait()
    origin = time.monotonic()
    interval = 1.0 / (rate * len(scans))

    def append(first: int) -> None:
        """Slots first, first + threads, …: slot n is due at origin + n × interval."""
        from django.db import connection

        slot = first
        while running.is_set() and not quit_.is_set():
            due = origin + slot * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            begin = time.monotonic()
            stamp = time.time()
            try:
                append_event(
                    scan_id=scans[slot % len(scans)],
                    kind="log",
                    data={"level": "info", "message": f"bench event {slot}"},
                    snapshot={"step": f"bench {stamp:.6f}"},
                )
                with lock:
                    stats["appended"] += 1
                    stats["late_ms"].append((begin - due) * 1000)
                    stats["append_ms"].append((time.monotonic() - begin) * 1000)
            except Exception as exc:  # keep publishing; report the count
                with lock:
                    stats["failed"] += 1
                print(f"publish failed: {exc}", file=sys.stderr, flush=True)
            slot += threads
        connection.close()

    # Appends of one organization serialize on its row lock; a second thread overlaps one
    # append's Python work with another's commit, so the schedule holds on a busy machine.
    workers = [threading.Thread(target=append, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    quit_.wait()


def _publisher_summary(stats: dict[str, Any]) -> dict[str, Any]:
    elapsed = time.time() - stats["started"]
    return {
        "at": time.monotonic(),
        "appended": stats["appended"],
        "failed": stats["failed"],
        "rate": stats["appended"] / elapsed if elapsed else 0.0,
        "late_p99_ms": _percentile(sorted(stats["late_ms"]), 0.99),
        "append_p50_ms": _percentile(sorted(stats["append_ms"]), 0.50),
        "append_p99_ms": _percentile(sorted(stats["append_ms"]), 0.99),
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


# =============================================================================================
# Orchestrator
# =============================================================================================


def _die_with_parent() -> None:
    """Children get SIGKILL if this script dies without cleaning up (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setsid()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def hist_percentile(hist: Counter[int], q: float) -> float:
    total = sum(hist.values())
    if not total:
        return float("nan")
    rank = q * total
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen >= rank:
            return (bucket + 1) * LAT_BUCKET_MS  # upper edge: never flatter than the truth
    return float("nan")


def hist_mean(hist: Counter[int]) -> float:
    total = sum(hist.values())
    return sum((k + 0.5) * LAT_BUCKET_MS * v for k, v in hist.items()) / total if total else 0.0


@dataclass
class Proc:
    """/proc figures of one process."""

    pid: int

    def status(self) -> dict[str, int]:
        values: dict[str, int] = {}
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "Threads"):
                    values[key] = int(rest.split()[0])
        return values

    def rss_kb(self) -> int:
        return self.status().get("VmRSS", 0)

    def threads(self) -> int:
        return self.status().get("Threads", 0)

    def cpu(self) -> float:
        with (
            contextlib.suppress(OSError, IndexError, ValueError),
            open(f"/proc/{self.pid}/stat") as f,
        ):
            fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICK
        return 0.0


def machine_busy() -> float:
    with open("/proc/stat") as f:
        fields = [int(value) for value in f.readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


class Child:
    """A child process spoken to with one JSON line per command and per reply."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, name: str) -> None:
        self.name = name
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=REPO_ROOT,
            preexec_fn=_die_with_parent,
        )
        self.proc = Proc(self.process.pid)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited (see its log)")
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.receive()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.send({"cmd": "exit"})
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def ask_all(children: list[Child], message: dict[str, Any]) -> list[dict[str, Any]]:
    for child in children:
        child.send(message)
    return [child.receive() for child in children]


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def proc(self) -> Proc:
        return Proc(self.process.pid)


NGINX_BINARY = "/usr/sbin/nginx"  # Debian's package (scripts/system-deps installs it)


class NginxProxy:
    """A real nginx in front of the web processes, started by ``deploy/start-nginx``: the
    configuration is exactly what ``scanpulse nginx_config`` prints for them, as ``deploy/``
    runs it. ``port`` is where clients connect; ``procs()`` the master and its workers."""

    def __init__(
        self,
        workdir: Path,
        upstreams: list[str],
        *,
        env: dict[str, str] | None = None,
        connections: int | None = None,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.upstreams = upstreams
        self.port = port or free_port()
        self.env = env
        self.connections = connections
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "start-nginx.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def start(self, timeout: float = 30) -> NginxProxy:
        binary = shutil.which("nginx") or NGINX_BINARY
        if not os.path.exists(binary):
            raise SystemExit("nginx is not installed (scripts/system-deps installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(self.env if self.env is not None else os.environ)
        venv_bin = str(Path(sys.executable).parent)  # where `scanpulse` is installed
        env.update(
            PATH=f"{venv_bin}:{env.get('PATH', '/usr/bin:/bin')}",
            UPSTREAMS=",".join(self.upstreams),
            NGINX_LISTEN=f"{HOST}:{self.port}",
            NGINX_PREFIX=str(self.workdir),
            NGINX=binary,
        )
        if self.connections is not None:
            env["NGINX_CONNECTIONS"] = str(self.connections)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [str(REPO_ROOT / "deploy" / "start-nginx")],
                env=env,
                cwd=REPO_ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited: {self.log_path.read_text()[-2000:]}"
                    f"{self.error_log.read_text()[-2000:] if self.error_log.exists() else ''}"
                )
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not start: {self.log_path}")
            time.sleep(0.05)
        return self

    def config(self) -> str:
        path = self.workdir / "nginx.conf"
        return path.read_text() if path.exists() else ""

    def problems(self) -> list[str]:
        """nginx's own complaints so far (e.g. a file-descriptor limit it could not raise)."""
        if not self.error_log.exists():
            return []
        return [
            line.split("] ", 1)[-1]
            for line in self.error_log.read_text(errors="replace").splitlines()
            if "[alert]" in line or "[emerg]" in line or "[crit]" in line or "[warn]" in line
        ]

    def procs(self) -> list[Proc]:
        if self.process is None:
            return []
        master = self.process.pid
        found = [Proc(master)]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            found += [Proc(int(pid)) for pid in children]
        return found

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # nginx: fast shutdown
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def start_nginx(
    workdir: Path,
    upstreams: list[str],
    *,
    env: dict[str, str] | None = None,
    connections: int | None = None,
) -> NginxProxy:
    """nginx, configured by ``scanpulse nginx_config`` through ``deploy/start-nginx``, in
    front of ``upstreams`` (``host:port`` of each web process); stop it with ``.stop()``.
    It inherits this process's file-descriptor limit; ``worker_rlimit_nofile`` raises it
    further where nginx may (``problems()`` tells when it could not)."""
    return NginxProxy(workdir, upstreams, env=env, connections=connections).start()


def scrape(port: int) -> dict[str, float]:
    """The process's /metrics, summed over labels."""
    for attempt in range(3):
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=30) as response:
                text = response.read().decode()
            break
        except OSError:
            if attempt == 2:
                raise
            log(f"  /metrics on :{port} did not answer within 30 s; again")
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        name = name.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            values[name] = values.get(name, 0.0) + float(value)
    return values


def scrape_buckets(port: int, name: str = "scanpulse_event_latency_seconds") -> dict[float, float]:
    """Cumulative histogram buckets of one metric of the process, by upper bound."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    buckets: dict[float, float] = {}
    prefix = f'{name}_bucket{{le="'
    for line in text.splitlines():
        if line.startswith(prefix):
            bound, _, rest = line[len(prefix) :].partition('"')
            buckets[float(bound)] = float(rest.rsplit(" ", 1)[1])
    return buckets


class Sampler(threading.Thread):
    """Peak RSS, threads of the server processes and Redis clients, every 0.25 s."""

    def __init__(self, procs: Callable[[], list[Proc]], redis_info: Callable[[], int]) -> None:
        super().__init__(daemon=True)
        self.procs = procs
        self.redis_info = redis_info
        self.peak_threads = 0
        self.peak_rss_kb = 0
        self.peak_redis_clients = 0
        self._done = threading.Event()

    def reset(self) -> None:
        self.peak_threads = self.peak_rss_kb = self.peak_redis_clients = 0

    def run(self) -> None:
        while not self._done.wait(0.25):
            statuses = [proc.status() for proc in self.procs()]
            self.peak_threads = max(self.peak_threads, sum(s.get("Threads", 0) for s in statuses))
            self.peak_rss_kb = max(self.peak_rss_kb, sum(s.get("VmRSS", 0) for s in statuses))
            with contextlib.suppress(Exception):
                self.peak_redis_clients = max(self.peak_redis_clients, self.redis_info())

    def stop(self) -> None:
        self._done.set()


@dataclass
class Row:
    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(
        self, section: str, name: str, value: str, target: str = "", met: bool | None = None
    ) -> None:
        self.rows.append(Row(section, name, value, target, met))
        mark = "" if met is None else (" ✓" if met else " ✗ MISSED")
        log(f"  {name}: {value}{'  (target ' + target + ')' if target else ''}{mark}")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results = Results()
        self.cleanups: list[Callable[[], None]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="scanpulse-streams-"))
        if not args.keep:
            self.cleanups.append(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        self.servers: list[Server] = []
        self.generators: list[Child] = []
        self.publisher: Child | None = None
        self.front: NginxProxy | None = None
        self.redis_port = 0
        self.db_name = ""
        self.token = ""
        self.org = ""
        self.scans: list[str] = []
        self.env: dict[str, str] = {}

    # -- resources ----------------------------------------------------------------------------

    def close(self) -> None:
        self.stop_generators()
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None
        self.stop_servers()
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()

    def start_redis(self) -> None:
        self.redis_port = free_port()
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.redis_port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxclients",
                "30000",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.redis_proc = Proc(process.pid)

        def stop() -> None:
            process.kill()
            process.wait()

        self.cleanups.append(stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((HOST, self.redis_port), 0.2),
            ):
                break
            time.sleep(0.05)
        import redis

        self.redis = redis.Redis(host=HOST, port=self.redis_port, socket_timeout=5)
        self.cleanups.append(self.redis.close)

    def redis_clients(self) -> int:
        return int(self.redis.info("clients")["connected_clients"])

    def create_database(self) -> str:
        if self.args.sqlite:
            return f"sqlite:///{self.tmp / 'bench.sqlite3'}"
        import psycopg

        self.db_name = f"scanpulse_bench_{os.getpid()}_{random.randrange(1 << 30)}"
        admin = self.args.postgres.rstrip("/")
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')

        def drop() -> None:
            with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

        self.cleanups.append(drop)
        return f"{admin}/{self.db_name}"

    def pg_connections(self) -> int:
        if not self.db_name:
            return 0
        import psycopg

        with psycopg.connect(f"{self.args.postgres.rstrip('/')}/postgres", autocommit=True) as c:
            row = c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.db_name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def base_env(self, database_url: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "scanpulse.config.settings.embedded",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://{HOST}:{self.redis_port}/0",
            "SCANPULSE_DATA_DIR": str(self.tmp / "data"),
            "SCANPULSE_ACCESS_LOG": "false",
            "SCANPULSE_STREAMS_PER_ORG": str(self.args.clients * 2),
            # As `scanpulse serve` does: Django under ASGI must not keep connections per thread.
            "DATABASE_CONN_MAX_AGE": "0",
            "SECRET_KEY": "bench-" + "x" * 50,
            "LOG_LEVEL": "WARNING",
            "TMPDIR": str(self.tmp),
            "PYTHONPATH": str(REPO_ROOT),
        }
        for item in self.args.server_env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def setup(self) -> None:
        args = self.args
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wish = args.clients * 2 + 1000
        if hard < wish:
            # Only a process with CAP_SYS_RESOURCE may raise its hard limit.
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (wish, wish))
                hard = wish
        want = min(hard, max(soft, wish))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        self.results.facts["nofile"] = want
        # every process inherits this limit: a server holds its share of the streams, a
        # generator its share of the clients, an nginx worker two connections per stream
        needs = {
            "server": args.clients // max(1, args.processes) + 200,
            "generator": args.clients // max(1, args.generators) + 200,
        }
        if args.nginx:
            needs["nginx (all workers' streams in one, at worst)"] = args.clients * 2 + 200
        note = f"open-file limit {want:,} (hard limit {hard:,}; wanted {wish:,})"
        for role, need in needs.items():
            if want < need:
                note += f"; too low for one {role} ({need:,} needed)"
        self.results.facts["nofile_note"] = note
        log(note + ("" if want >= wish else ": this process may not raise it further"))
        if want < min(needs["server"], needs["generator"]):
            raise SystemExit(f"open-file limit {want} is too low for {args.clients} clients")
        self.start_redis()
        database_url = self.create_database()
        self.env = self.base_env(database_url)
        log(f"temp dir {self.tmp}, redis :{self.redis_port}, database {database_url}")
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, __file__, "--role", "setup", "--scans", str(args.scans)],
            env=self.env,
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        seeded = json.loads(out.stdout.strip().splitlines()[-1])
        self.token, self.org, self.scans = seeded["token"], seeded["org"], seeded["scans"]
        log(f"migrated and seeded {len(self.scans)} scans in {time.monotonic() - started:.1f} s")

    def ports(self) -> list[int]:
        return [server.port for server in self.servers] or [0] * self.args.processes

    # -- servers ------------------------------------------------------------------------------

    def start_servers(
        self, app: str, *, app_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        for index in range(self.args.processes):
            port = free_port()
            log_path = self.tmp / f"server-{app.split(':')[0]}-{index}.log"
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                HOST,
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--lifespan",
                "on",
                "--backlog",
                str(self.args.backlog),
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "3",
            ]
            if app_dir is not None:
                command += ["--app-dir", str(app_dir)]
            if app_dir is None:
                self.server_command = shlex.join(command[1:])
            with log_path.open("ab") as log_file:
                tree = self.args.server_tree if app_dir is None else None
                extra = {"PYTHONPATH": str(tree)} if tree is not None else {}
                process = subprocess.Popen(
                    command,
                    env={**self.env, **extra, **(env or {})},
                    cwd=tree or REPO_ROOT,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                )
            self.servers.append(Server(port, process, log_path))
        for server in self.servers:
            deadline = time.monotonic() + 60
            while True:
                if server.process.poll() is not None:
                    raise RuntimeError(f"server exited: {server.log_path.read_text()[-3000:]}")
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"http://{HOST}:{server.port}/healthz", timeout=2),
                ):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"server did not start: {server.log_path}")
                time.sleep(0.1)
        if self.args.nginx and app_dir is None:
            self.front = start_nginx(
                self.tmp / "nginx",
                [f"{HOST}:{server.port}" for server in self.servers],
                env=self.env,
            )
            workers = len(self.front.procs()) - 1
            log(f"  nginx :{self.front.port} in front ({workers} workers; deploy/start-nginx)")
            for problem in self.front.problems():
                log(f"  nginx says: {problem}")
            self.results.facts["nginx_problems"] = self.front.problems()

    def stop_servers(self) -> None:
        if self.front is not None:
            self.front.stop()
            self.front = None
        for server in self.servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers:
            try:
                server.process.wait(10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        self.servers = []

    def server_procs(self) -> list[Proc]:
        return [server.proc for server in self.servers]

    def nginx_procs(self) -> list[Proc]:
        return self.front.procs() if self.front is not None else []

    def client_ports(self) -> list[int]:
        """Where clients connect: nginx when it is in front, else each server in turn."""
        return [self.front.port] if self.front is not None else self.ports()

    def source_addresses(self) -> list[str]:
        """Local addresses the clients connect from. One address holds at most one connection
        per ephemeral port (net.ipv4.ip_local_port_range, 28,232 by default) to each server
        address; above 10,000 clients they are spread over 127.0.0.2, 127.0.0.3, …"""
        count = self.args.source_addresses
        if count < 0:
            count = 0 if self.args.clients <= 10_000 else -(-self.args.clients // 10_000)
        return [f"127.0.0.{2 + index}" for index in range(count)]

    def server_cpu(self) -> float:
        return sum(proc.cpu() for proc in self.server_procs())

    def latency_buckets(self) -> dict[float, float]:
        total: dict[float, float] = {}
        for server in self.servers:
            try:
                buckets = scrape_buckets(server.port)
            except OSError as exc:
                log(f"  /metrics on :{server.port} unanswered ({exc}): its event loop is behind")
                continue
            for bound, count in buckets.items():
                total[bound] = total.get(bound, 0.0) + count
        return total

    def metrics(self) -> dict[str, float]:
        """Every server's /metrics, summed; a server whose event loop is too far behind to
        answer is left out (and said so), so that a saturated run still ends with figures."""
        total: dict[str, float] = {}
        for server in self.servers:
            try:
                values = scrape(server.port)
            except OSError as exc:
                log(f"  /metrics on :{server.port} unanswered ({exc}): its event loop is behind")
                continue
            for name, value in values.items():
                total[name] = total.get(name, 0.0) + value
        return total

    # -- clients ------------------------------------------------------------------------------

    def scan_heads(self) -> dict[str, int]:
        """Every scan's newest event number, as a page showing it would have rendered."""
        query = "SELECT id, last_event_seq FROM scans_scan"
        if self.args.sqlite:
            import sqlite3

            with contextlib.closing(sqlite3.connect(self.tmp / "bench.sqlite3")) as conn:
                rows = conn.execute(query).fetchall()
            return {str(uuid.UUID(str(k))): int(v) for k, v in rows}
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return {str(k): int(v) for k, v in conn.execute(query).fetchall()}

    def start_generators(self, mode: str, path: str, concurrency: int) -> None:
        ports = self.client_ports()
        sources = self.source_addresses() or [""]
        clients = []
        scans = self.scans
        # Viewers open a scan's page, which renders its state and connects from its
        # last_event_id (docs/api.md), so a stream starts with what happened since.
        heads = self.scan_heads() if mode == "poll" or "{last}" in path else {}
        for k in range(self.args.clients):
            scan = scans[k % len(scans)]
            viewer = k // len(scans)
            last = heads.get(scan, 0)
            # viewer-major: every scan has the same number of viewers on every process
            clients.append(
                (
                    ports[viewer % len(ports)],
                    path.format(scan=scan, last=last),
                    last,
                    sources[k % len(sources)],
                )
            )
        count = self.args.generators
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        for index in range(count):
            child = Child(
                [sys.executable, __file__, "--role", "generator"],
                env,
                self.tmp / f"generator-{index}.log",
                f"generator {index}",
            )
            child.send(
                {
                    "mode": mode,
                    "token": self.token,
                    "concurrency": concurrency,
                    "clients": clients[index::count],
                }
            )
            child.receive()
            self.generators.append(child)

    def stop_generators(self) -> None:
        for child in self.generators:
            child.stop()
        self.generators = []

    def start_publisher(self) -> None:
        self.publisher = Child(
            [sys.executable, __file__, "--role", "publisher", "--rate", str(self.args.rate)],
            self.env,
            self.tmp / "publisher.log",
            "publisher",
        )
        self.publisher.send({"scans": self.scans})
        self.publisher.ask({"cmd": "start"})

    def client_stats(self) -> dict[str, Any]:
        merged: dict[str, Any] = {
            "hist": Counter(),
            "hist_append": Counter(),
            "hist_response": Counter(),
            "statuses": Counter(),
            "errors": Counter(),
        }
        for reply in ask_all(self.generators, {"cmd": "stats"}):
            for key, value in reply.items():
                if key in ("hist", "hist_append", "hist_response", "statuses", "errors"):
                    merged[key].update(
                        {(int(k) if key != "errors" else k): v for k, v in value.items()}
                    )
                else:
                    merged[key] = merged.get(key, 0) + value
        return merged

    # -- phases -------------------------------------------------------------------------------

    def run(self) -> None:
        args = self.args
        self.setup()
        self.sampler = Sampler(self.server_procs, self.redis_clients)
        self.sampler.start()
        self.cleanups.append(self.sampler.stop)
        self.phase_scanpulse()
        if not args.skip_seed:
            self.phase_seed()
        if not args.skip_poll:
            self.phase_poll()

    def phase_scanpulse(self) -> None:
        args, res = self.args, self.results
        goal = targets(args)
        log(f"scanpulse: starting {args.processes} server processes")
        self.start_servers("scanpulse.config.asgi:application")
        time.sleep(1.0)
        idle_rss = sum(proc.rss_kb() for proc in self.server_procs())
        idle_threads = sum(proc.threads() for proc in self.server_procs())
        res.facts["idle"] = {
            "rss_kb": idle_rss,
            "threads": idle_threads,
            "nginx_rss_kb": sum(proc.rss_kb() for proc in self.nginx_procs()),
        }
        log(f"  idle: RSS {idle_rss / 1024:.1f} MiB, {idle_threads} threads (both processes)")

        self.start_publisher()
        time.sleep(2.0)  # every process's hub has seen every scan
        self.start_generators(
            "sse", "/api/scans/{scan}/progress?last_event_id={last}", args.connect_concurrency
        )
        self.sampler.reset()
        log(f"scanpulse: connecting {args.clients} streams")
        connects = ask_all(self.generators, {"cmd": "connect", "deadline": args.accept_seconds})
        opened = sum(reply["opened"] for reply in connects)
        accept_s = max(reply["last_open"] for reply in connects) - min(
            reply["started"] for reply in connects
        )
        time.sleep(2.0)
        metrics = self.metrics()
        rss = sum(proc.rss_kb() for proc in self.server_procs())
        threads = sum(proc.threads() for proc in self.server_procs())
        per_stream = (rss - idle_rss) / max(1, opened)
        res.add(
            "scanpulse",
            "streams accepted",
            f"{opened:,} of {args.clients:,} in {accept_s:.1f} s "
            f"(server gauge {int(metrics.get('scanpulse_open_streams', 0)):,}; "
            f"client retries {dict(self.client_stats()['errors']) or 'none'})",
            f"≥ {args.clients:,}",
            opened >= args.clients,
        )
        res.add(
            "scanpulse",
            "server RSS per stream, after accept",
            f"{per_stream:.1f} KB ((({rss / 1024:.0f} − {idle_rss / 1024:.0f} idle) MiB, 2 processes)",
            f"≤ {goal['kb']:g} KB",
            per_stream <= goal["kb"],
        )

        # -- steady state ----------------------------------------------------------------------
        log(f"scanpulse: steady state, {args.duration:.0f} s")
        before = self.client_stats()
        cpu0, busy0, m0 = self.server_cpu(), machine_busy(), self.metrics()
        roles0 = self.cpu_breakdown()
        assert self.publisher is not None
        published0 = self.publisher.ask({"cmd": "stats"})
        buckets0 = self.latency_buckets()
        ask_all(self.generators, {"cmd": "measure", "on": True})
        t0 = time.monotonic()
        time.sleep(args.duration)
        ask_all(self.generators, {"cmd": "measure", "on": False})
        window = time.monotonic() - t0
        cpu1, busy1, m1 = self.server_cpu(), machine_busy(), self.metrics()
        buckets1 = self.latency_buckets()
        roles1 = self.cpu_breakdown()
        roles = {k: (roles1[k] - roles0.get(k, 0.0)) / (time.monotonic() - t0) for k in roles1}
        after = self.client_stats()
        published = self.publisher.ask({"cmd": "stats"})
        published["rate"] = (published["appended"] - published0["appended"]) / (
            published["at"] - published0["at"]
        )
        rate = after["delivered"] / window
        hist = after["hist"]
        p50, p95, p99 = (hist_percentile(hist, q) for q in (0.5, 0.95, 0.99))
        hist_append = after["hist_append"]
        rss_steady = sum(proc.rss_kb() for proc in self.server_procs())
        per_stream_steady = (rss_steady - idle_rss) / max(1, opened)
        peak_threads = self.sampler.peak_threads
        res.add(
            "scanpulse",
            "server RSS per stream, end of steady state",
            f"{per_stream_steady:.1f} KB ({rss_steady / 1024:.0f} MiB in all)",
            f"≤ {goal['kb']:g} KB",
            per_stream_steady <= goal["kb"],
        )
        res.add(
            "scanpulse",
            "server threads, both processes (peak)",
            f"{max(peak_threads, threads)} (idle {idle_threads})",
            f"≤ {goal['threads']:g}",
            max(peak_threads, threads) <= goal["threads"],
        )
        res.add(
            "scanpulse",
            "deliveries/s (clients)",
            f"{rate:,.0f} of {published['rate'] * args.clients / args.scans:,.0f} published "
            f"(server counter "
            f"{(m1.get('scanpulse_stream_deliveries_total', 0) - m0.get('scanpulse_stream_deliveries_total', 0)) / window:,.0f}/s;"
            f" {published['rate']:.1f} appends/s, append p99 {published['append_p99_ms']:.1f} ms)",
            f"≥ {args.clients * args.rate:,.0f}",
            rate >= args.clients * args.rate * 0.98,
        )
        res.add(
            "scanpulse",
            "publish→receive latency p50 / p95 / p99",
            f"{p50:.1f} / {p95:.1f} / {p99:.1f} ms (max {hist_percentile(hist, 1.0):.0f} ms; "
            f"{sum(hist.values()):,} samples)",
            f"p99 ≤ {goal['p99_ms']:g} ms",
            p99 <= goal["p99_ms"],
        )
        written = {b: buckets1.get(b, 0.0) - buckets0.get(b, 0.0) for b in buckets1}
        total_written = written.get(float("inf"), 0.0)
        if total_written:
            res.add(
                "scanpulse",
                "server side: live writes within 10 / 25 / 50 ms of the append",
                " / ".join(
                    f"{written.get(bound, 0.0) / total_written * 100:.2f} %"
                    for bound in (0.01, 0.025, 0.05)
                )
                + " (scanpulse_event_latency_seconds; includes the DB transaction)",
            )
        res.add(
            "scanpulse",
            "append→receive p50 / p95 / p99 (incl. the DB transaction)",
            " / ".join(f"{hist_percentile(hist_append, q):.1f}" for q in (0.5, 0.95, 0.99))
            + f" ms (append_event p50 {published['append_p50_ms']:.1f}, "
            f"p99 {published['append_p99_ms']:.1f} ms)",
        )
        bad = after["lost"] + after["duplicated"] + after["out_of_order"]
        res.add(
            "scanpulse",
            "lost / duplicated / out of order",
            f"{after['lost']} / {after['duplicated']} / {after['out_of_order']} "
            f"of {after['events']:,} events",
            "0 / 0 / 0",
            bad == 0,
        )
        res.add(
            "scanpulse",
            "server CPU, steady state",
            f"{(cpu1 - cpu0) / window * 100:.0f} % of a core (both processes); machine busy "
            f"{(busy1 - busy0) / window:.2f} cores: "
            + ", ".join(f"{k} {v:.2f}" for k, v in roles.items())
            + f", other {(busy1 - busy0) / window - sum(roles.values()):.2f}",
        )
        summary = res.facts.setdefault("summary", {})
        summary.update(streams=opened, kb=max(per_stream, per_stream_steady), p99_ms=p99, rate=rate)
        if self.front is not None:
            nginx_rss = sum(proc.rss_kb() for proc in self.nginx_procs())
            nginx_idle = res.facts["idle"]["nginx_rss_kb"]
            res.add(
                "scanpulse",
                "nginx: RSS, CPU in steady state",
                f"{nginx_rss / 1024:.0f} MiB, idle {nginx_idle / 1024:.0f} MiB: "
                f"{(nginx_rss - nginx_idle) / max(1, opened):.1f} KB per stream (master and "
                f"{len(self.nginx_procs()) - 1} workers); "
                f"{roles.get('nginx', 0.0) * 100:.0f} % of a core",
            )
        res.facts["steady"] = {
            "window": window,
            "server_cpu": (cpu1 - cpu0) / window,
            "machine_busy": (busy1 - busy0) / window,
            "ours": sum(roles.values()),
            "roles": roles,
            "publisher": published,
            "server_closed": after["server_closed"] - before["server_closed"],
        }

        # -- reconnect storm -------------------------------------------------------------------
        log("scanpulse: reconnect storm")
        m0 = self.metrics()
        errors0 = self.client_stats()["errors"]
        self.sampler.reset()
        storms = ask_all(self.generators, {"cmd": "storm", "limit": args.storm_seconds})
        m1 = self.metrics()
        time.sleep(3.0)  # keep publishing; then check the sequence again
        after_storm = self.client_stats()
        started = min(reply["started"] for reply in storms)
        dropped = sum(reply["dropped"] for reply in storms)
        reopened = sum(reply["reopened"] for reply in storms)
        caught = sum(reply["caught"] for reply in storms)
        reopen_s = max(reply["reopened_at"] for reply in storms) - started
        caught_s = max(reply["caught_at"] for reply in storms) - started
        db_calls = m1.get("scanpulse_stream_db_calls_total", 0) - m0.get(
            "scanpulse_stream_db_calls_total", 0
        )
        replays = m1.get("scanpulse_stream_replays_total", 0) - m0.get(
            "scanpulse_stream_replays_total", 0
        )
        bad_storm = after_storm["lost"] + after_storm["duplicated"] + after_storm["out_of_order"]
        res.add(
            "scanpulse",
            "reconnect storm: all streams back and caught up",
            f"{caught:,} of {dropped:,} in {caught_s:.1f} s (all re-opened in {reopen_s:.1f} s, "
            f"{reopened:,} re-opened; client retries "
            f"{dict(after_storm['errors'] - errors0) or 'none'})",
            f"≤ {goal['storm_s']:g} s",
            caught == dropped == opened and caught_s <= goal["storm_s"],
        )
        res.add(
            "scanpulse",
            "reconnect storm: gap-free (lost / dup / out of order, whole run)",
            f"{after_storm['lost']} / {after_storm['duplicated']} / {after_storm['out_of_order']}",
            "0 / 0 / 0",
            bad_storm == 0,
        )
        res.add(
            "scanpulse",
            "reconnect storm: SQL calls per resumed connection",
            f"{db_calls / max(1, reopened):.4f} ({db_calls:.0f} stream-path DB calls, "
            f"{replays:.0f} log replays for {reopened:,} resumes)",
            "0",
            db_calls / max(1, reopened) < 0.01,
        )
        summary.update(storm_s=caught_s if caught == dropped == opened else float("inf"))
        summary.update(lost=after_storm["lost"] + after_storm["out_of_order"])
        res.facts["storm"] = {
            "redis_clients_peak": self.sampler.peak_redis_clients,
            "threads_peak": self.sampler.peak_threads,
        }

        # -- abrupt disconnects ----------------------------------------------------------------
        log("scanpulse: abrupt disconnects")
        kills = ask_all(self.generators, {"cmd": "kill"})
        started = min(reply["started"] for reply in kills)
        slot_key = f"scanpulse:streams:{self.org}"
        open_streams = slots = -1.0
        streams_s = slots_s = float("nan")
        while time.time() - started < 40:
            open_streams = self.metrics().get("scanpulse_open_streams", 0)
            if open_streams == 0 and streams_s != streams_s:
                streams_s = time.time() - started
            slots = float(self.redis.zcard(slot_key))
            if slots == 0 and slots_s != slots_s:
                slots_s = time.time() - started
            if open_streams == 0 and slots == 0:
                break
            time.sleep(0.05)
        cleanup_s = time.time() - started
        res.add(
            "scanpulse",
            f"{args.clients:,} abrupt disconnects (RST) cleaned up",
            f"{cleanup_s:.2f} s (streams closed after {streams_s:.2f} s, Redis slots freed after "
            f"{slots_s:.2f} s; left: {open_streams:.0f} streams, {slots:.0f} slots)",
            f"≤ {goal['cleanup_s']:g} s",
            open_streams == 0 and slots == 0 and cleanup_s <= goal["cleanup_s"],
        )
        summary.update(cleanup_s=cleanup_s if open_streams == 0 and slots == 0 else float("inf"))
        time.sleep(1.0)
        rss_after = sum(proc.rss_kb() for proc in self.server_procs())
        res.add(
            "scanpulse",
            "server RSS after the disconnects",
            f"{rss_after / 1024:.0f} MiB (idle {idle_rss / 1024:.0f} MiB); "
            f"threads {sum(proc.threads() for proc in self.server_procs())}",
        )
        self.stop_generators()
        assert self.publisher is not None
        res.facts["publisher_total"] = self.publisher.ask({"cmd": "stop"})
        self.stop_servers()

    def cpu_breakdown(self) -> dict[str, float]:
        """CPU seconds so far of every process taking part, by role."""
        pg: list[Proc] = []
        with contextlib.suppress(Exception):
            import psycopg

            admin = f"{self.args.postgres.rstrip('/')}/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db_name,)
                ).fetchall()
            pg = [Proc(int(row[0])) for row in rows]
        return {
            "servers": sum(proc.cpu() for proc in self.server_procs()),
            "nginx": sum(proc.cpu() for proc in self.nginx_procs()),
            "generators": sum(child.proc.cpu() for child in self.generators),
            "publisher": self.publisher.proc.cpu() if self.publisher is not None else 0.0,
            "redis": self.redis_proc.cpu(),
            "postgres": sum(proc.cpu() for proc in pg),
            "orchestrator": sum(os.times()[:2]),
        }

    def phase_seed(self) -> None:
        args, res = self.args, self.results
        log(f"seed design: one Redis connection + pub/sub per stream, {args.seed_seconds:.0f} s")
        self.start_servers("seed_app:app", app_dir=HELPERS)
        time.sleep(1.0)
        idle_rss = sum(proc.rss_kb() for proc in self.server_procs())
        base_clients = self.redis_clients()
        self.start_generators("sse", "/api/scans/{scan}/progress", args.connect_concurrency)
        self.sampler.reset()
        cpu0 = self.server_cpu()
        connects = ask_all(self.generators, {"cmd": "connect", "deadline": args.seed_seconds})
        opened = sum(reply["opened"] for reply in connects)
        elapsed = max(reply["finished"] for reply in connects) - min(
            reply["started"] for reply in connects
        )
        cpu = self.server_cpu() - cpu0
        time.sleep(1.0)
        stats = self.client_stats()
        rss = sum(proc.rss_kb() for proc in self.server_procs())
        threads = max(self.sampler.peak_threads, sum(p.threads() for p in self.server_procs()))
        redis_clients = self.redis_clients() - base_clients
        res.add(
            "seed",
            "streams accepted",
            f"{opened:,} of {args.clients:,} "
            + (f"in {elapsed:.1f} s" if opened == args.clients else f"within {elapsed:.0f} s"),
            f"≥ {args.clients:,}",
            opened >= args.clients,
        )
        res.add(
            "seed",
            "server RSS per stream",
            f"{(rss - idle_rss) / max(1, opened):.1f} KB ({rss / 1024:.0f} MiB in all)",
            f"≤ {TARGET_KB_PER_STREAM} KB",
            (rss - idle_rss) / max(1, opened) <= TARGET_KB_PER_STREAM,
        )
        res.add("seed", "server threads (peak)", str(threads), f"≤ {TARGET_THREADS}", threads <= 50)
        res.add(
            "seed",
            "Redis connections held",
            f"{redis_clients:,} (peak {self.sampler.peak_redis_clients:,})",
            "(scanpulse: 2 per process)",
        )
        res.add(
            "seed",
            "server CPU while connecting",
            f"{cpu:.1f} CPU-s ({cpu / max(0.001, elapsed) * 100:.0f} % of a core); "
            f"client errors {dict(stats['errors']) or 'none'}",
        )
        if opened:
            self.seed_deliveries(opened)
        ask_all(self.generators, {"cmd": "kill"})
        time.sleep(1.0)
        self.stop_generators()
        self.stop_servers()

    def seed_deliveries(self, opened: int) -> None:
        """The same 1 event/s per scan, PUBLISHed to each scan's channel (the seed design
        has no log), for a shorter while: what a delivery costs in that design."""
        args, res = self.args, self.results
        seconds = args.seed_publish_seconds
        log(f"seed design: publishing {args.rate:g} event/s per scan for {seconds:.0f} s")
        stop = threading.Event()

        def publish() -> None:
            interval = 1.0 / (args.rate * len(self.scans))
            origin = time.monotonic()
            slot = 0
            while not stop.is_set():
                delay = origin + slot * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                payload = json.dumps({"seq": slot, "bench_published": time.monotonic()})
                self.redis.publish(f"scan:{self.scans[slot % len(self.scans)]}", payload)
                slot += 1

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        time.sleep(2.0)
        cpu0, redis0 = self.server_cpu(), self.redis_proc.cpu()
        ask_all(self.generators, {"cmd": "measure", "on": True})
        t0 = time.monotonic()
        time.sleep(seconds)
        ask_all(self.generators, {"cmd": "measure", "on": False})
        window = time.monotonic() - t0
        cpu, redis_cpu = self.server_cpu() - cpu0, self.redis_proc.cpu() - redis0
        stop.set()
        publisher.join()
        stats = self.client_stats()
        hist = stats["hist"]
        res.add(
            "seed",
            "deliveries/s; publish→receive p50 / p99",
            f"{stats['delivered'] / window:,.0f} of {opened * args.rate / args.scans * len(self.scans):,.0f}; "
            f"{hist_percentile(hist, 0.5):.1f} / {hist_percentile(hist, 0.99):.1f} ms",
        )
        res.add(
            "seed",
            "server CPU while delivering",
            f"{cpu / window * 100:.0f} % of a core (both processes); Redis "
            f"{redis_cpu / window * 100:.0f} % (it sends every event once per stream)",
        )

    def phase_poll(self) -> None:
        args, res = self.args, self.results
        log(
            f"short polling: {args.clients:,} clients every {args.poll_interval:.0f} s, "
            f"{args.poll_seconds:.0f} s"
        )
        # 10,000 viewers would be as many users and addresses: the per-token and per-address
        # API rate limits (SCANPULSE_THROTTLE_*) would answer most of one token's polls 429.
        self.start_servers(
            "scanpulse.config.asgi:application",
            env={"SCANPULSE_THROTTLE_TOKEN_RATE": "", "SCANPULSE_THROTTLE_IP_RATE": ""},
        )
        self.start_publisher()
        time.sleep(1.0)
        self.start_generators("poll", "/api/scans/{scan}/status", args.poll_inflight)
        ask_all(self.generators, {"cmd": "poll", "interval": args.poll_interval})
        time.sleep(args.poll_interval + 2)  # every poller has an ETag
        self.sampler.reset()
        ask_all(self.generators, {"cmd": "measure", "on": True})
        cpu0, busy0, t0 = self.server_cpu(), machine_busy(), time.monotonic()
        pg_peak = 0
        while time.monotonic() - t0 < args.poll_seconds:
            with contextlib.suppress(Exception):
                pg_peak = max(pg_peak, self.pg_connections())
            if pg_peak > args.pg_guard:
                log(f"  stopping early: {pg_peak} PostgreSQL connections (guard {args.pg_guard})")
                break
            time.sleep(0.5)
        ask_all(self.generators, {"cmd": "measure", "on": False})
        window = time.monotonic() - t0
        cpu, busy = self.server_cpu() - cpu0, machine_busy() - busy0
        stats = self.client_stats()
        ask_all(self.generators, {"cmd": "stop_poll"})
        wanted = args.clients / args.poll_interval
        served = stats["requests"] / window
        hist = stats["hist"]
        res.add(
            "poll",
            "requests/s served (wanted)",
            f"{served:,.0f} ({wanted:,.0f}); by status "
            f"{dict(sorted(stats['statuses'].items()))}; polls late {stats['late']:,}; "
            f"{window:.0f} s",
        )
        res.add(
            "poll",
            "server CPU",
            f"{cpu / window * 100:.0f} % of a core (both processes; machine busy "
            f"{busy / window:.2f} of {os.cpu_count()} cores)",
        )
        res.add(
            "poll",
            "staleness: event → seen by a poller, mean / p99",
            f"{hist_mean(hist) / 1000:.2f} / {hist_percentile(hist, 0.99) / 1000:.2f} s "
            f"({sum(hist.values()):,} events seen; {stats['answered']:,} of {args.clients:,} "
            f"pollers answered at least once in {window:.0f} s; one answer per poller every "
            f"{window * args.clients / max(1, stats['requests']):.1f} s on average)",
            "(streams: p99 latency)",
        )
        res.add(
            "poll",
            "server response time p50 / p99",
            f"{hist_percentile(stats['hist_response'], 0.5):.0f} / "
            f"{hist_percentile(stats['hist_response'], 0.99):.0f} ms; "
            f"({args.poll_inflight * args.generators} requests in flight at most); "
            f"threads peak {self.sampler.peak_threads}, RSS "
            f"{self.sampler.peak_rss_kb / 1024:.0f} MiB, DB connections peak {pg_peak}; "
            f"errors {dict(stats['errors']) or 'none'}",
        )
        self.stop_generators()
        assert self.publisher is not None
        self.publisher.ask({"cmd": "stop"})
        self.publisher.stop()
        self.publisher = None
        self.stop_servers()

    # -- report -------------------------------------------------------------------------------

    def report(self, command: str, load_before: str, load_after: str) -> bool:
        facts = machine_facts()
        print()
        print("Live streams at 10,000 viewers — bench/streams.py")
        print(f"command:  {command}")
        print(f"date:     {time.strftime('%Y-%m-%d %H:%M %Z')}")
        for key, value in facts.items():
            print(f"{key + ':':9} {value}")
        print(f"server:   python {getattr(self, 'server_command', '?')}")
        print(
            f"setup:    {self.args.clients:,} clients = {self.args.scans} scans × "
            f"{self.args.clients // self.args.scans} viewers, {self.args.processes} server "
            f"processes, {self.args.generators} generator processes, {self.args.rate:g} event/s "
            f"per scan; database {'SQLite' if self.args.sqlite else 'PostgreSQL'}"
            + (
                "; clients through nginx (deploy/start-nginx, `scanpulse nginx_config`)"
                if self.args.nginx
                else ""
            )
            + (
                f"; clients from {len(self.source_addresses())} source addresses"
                if self.source_addresses()
                else ""
            )
        )
        print(f"fds:      {self.results.facts.get('nofile_note', '')}")
        for problem in self.results.facts.get("nginx_problems", []):
            print(f"nginx:    {problem}")
        print(f"load:     before {load_before}; after {load_after} (1/5/15-min load averages)")
        if "steady" in self.results.facts:
            steady = self.results.facts["steady"]
            print(
                f"other:    during steady state the machine was busy {steady['machine_busy']:.2f} "
                f"cores, {steady['ours']:.2f} of them this benchmark's processes (servers, "
                f"generators, publisher, redis, the database's backends): other work on the "
                f"machine used {steady['machine_busy'] - steady['ours']:.2f} cores"
            )
        print()
        sections = {
            "scanpulse": "scanpulse (hub + ring buffers)",
            "seed": "baseline: the seed design (Redis pub/sub per stream)",
            "poll": f"baseline: short polling every {self.args.poll_interval:g} s",
        }
        width = max(len(row.name) for row in self.results.rows) if self.results.rows else 10
        all_met = True
        for section, title in sections.items():
            rows = [row for row in self.results.rows if row.section == section]
            if not rows:
                continue
            print(f"{title}")
            print(f"  {'figure':{width}}  {'target':14}  {'met':4}  value")
            for row in rows:
                met = "" if row.met is None else ("yes" if row.met else "NO")
                if section == "scanpulse" and row.met is False:
                    all_met = False
                print(f"  {row.name:{width}}  {row.target:14}  {met:4}  {row.value}")
            print()
        print(self.summary_line())
        return all_met

    def summary_line(self) -> str:
        """The one summary line: ``nginx: …`` through nginx, else ``streams: …``."""
        got = self.results.facts.get("summary", {})
        nan = float("nan")
        streams = got.get("streams", 0)
        p99, storm, lost = got.get("p99_ms", nan), got.get("storm_s", nan), got.get("lost", -1)
        if self.args.nginx:
            return f"nginx: {streams} streams, p99 {p99:.1f} ms, storm {storm:.1f} s, lost {lost}"
        return (
            f"streams: {streams} streams, {got.get('kb', nan):.1f} KB/stream, p99 {p99:.1f} ms, "
            f"storm {storm:.1f} s, cleanup {got.get('cleanup_s', nan):.2f} s, lost {lost}"
        )


def machine_facts() -> dict[str, str]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        memory = f"{int(f.readline().split()[1]) / 1024**2:.1f} GiB RAM"
    versions = []
    for name in ("django", "uvicorn", "uvloop", "httptools", "redis"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
    return {
        "machine": f"{os.cpu_count()} cores ({model}), {memory}, Linux {platform.release()}",
        "python": f"{platform.python_version()}; {', '.join(versions)}; "
        "uvicorn --loop uvloop --http httptools",
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--role", choices=["generator", "setup", "publisher"], help=argparse.SUPPRESS
    )
    parser.add_argument("--quick", action="store_true", help="1,000 clients, shorter phases")
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=100, help="clients are spread evenly")
    parser.add_argument("--rate", type=float, default=1.0, help="events/s per scan")
    parser.add_argument("--duration", type=float, default=60, help="steady-state seconds")
    parser.add_argument("--processes", type=int, default=2, help="server processes")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=1000,
        help="connections each generator opens at once (kept under the listen backlog)",
    )
    parser.add_argument("--backlog", type=int, default=4096, help="uvicorn --backlog")
    parser.add_argument("--accept-seconds", type=float, default=120)
    parser.add_argument(
        "--storm-seconds", type=float, default=60, help="reconnect storm: give up after"
    )
    parser.add_argument("--seed-seconds", type=float, default=60, help="seed baseline limit")
    parser.add_argument(
        "--seed-publish-seconds", type=float, default=20, help="seed baseline deliveries"
    )
    parser.add_argument("--poll-seconds", type=float, default=45)
    parser.add_argument("--poll-interval", type=float, default=3.0)
    parser.add_argument(
        "--poll-inflight",
        type=int,
        default=16,
        help="outstanding polls per generator: each is a thread and a PostgreSQL connection "
        "in the server, and the database is shared",
    )
    parser.add_argument(
        "--pg-guard", type=int, default=60, help="stop polling above this many DB connections"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--skip-poll", action="store_true")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="for experiments"
    )
    parser.add_argument(
        "--server-tree",
        type=Path,
        help="serve scanpulse from this copy of the source instead (before/after comparisons, "
        "e.g. a `git archive HEAD scanpulse | tar -x -C DIR` export)",
    )
    parser.add_argument(
        "--nginx",
        action="store_true",
        help="clients connect through nginx (deploy/start-nginx: the configuration "
        "`scanpulse nginx_config` prints) in front of the server processes; no seed baseline",
    )
    parser.add_argument(
        "--deliveries",
        type=float,
        help="deliveries/s to aim for in the steady state: sets --rate (events/s per scan, each "
        "delivered to clients / scans viewers) to this / clients",
    )
    parser.add_argument(
        "--source-addresses",
        type=int,
        default=-1,
        help="connect clients from 127.0.0.2 … 127.0.0.(N+1), round robin (0: the kernel's "
        "choice; default: one address per 10,000 clients above 10,000)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.nginx:
        args.skip_seed = True
    if args.quick:
        args.clients = min(args.clients, 1000)
        args.scans = min(args.scans, 10)
        args.duration = min(args.duration, 15)
        args.seed_seconds = min(args.seed_seconds, 20)
        args.seed_publish_seconds = min(args.seed_publish_seconds, 10)
        args.poll_seconds = min(args.poll_seconds, 15)
    if args.deliveries:
        # deliveries/s = rate × scans × (clients / scans) viewers = rate × clients
        args.rate = args.deliveries / args.clients
    return args


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C."""

    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.role == "generator":
        generator_role()
        return 0
    if args.role == "setup":
        setup_role(args.scans)
        return 0
    if args.role == "publisher":
        publisher_role(args.rate)
        return 0
    command = shlex.join([os.path.relpath(sys.executable, REPO_ROOT), *sys.argv])
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    bench = Bench(args)
    try:
        with _interruptible():
            bench.run()
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        bench.close()
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    ok = bench.report(command, load_before, load_after)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": command,
                    "rows": [row.__dict__ for row in bench.results.rows],
                    "facts": bench.results.facts,
                },
                indent=2,
                default=str,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
