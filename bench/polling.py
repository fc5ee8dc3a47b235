"""Polling at 10,000 clients: ``GET /api/scans/{id}/status`` and ``/events?after=`` served by
two web processes, side by side with a baseline tree in the same run.

N clients (default 10,000: 100 scans × 100 viewers, half on each process; half with a bearer
token of their own, half with a browser session of their own, spread over 250 users) poll
every 3 s, each waiting for its previous answer: ``/status`` with ``If-None-Match`` (the ETag
of its last answer), then, in a second phase, ``/events?after=`` (the ``last_event_id`` of
its last answer). A publisher appends events to every scan through the real log at
``--rate`` events/s per scan (0.1 by default: a scan that changes every 10 s, so most polls
find it unchanged). Measured per phase: answers/s served against the wanted N / 3 s, answer
time p50 / p99 (sent → whole answer read, on the client), errors (failed connections, time-outs
and any status but 200 / 304), the share of 304s (for /events: of pages with no new event),
and the costs per answer: database transactions (``pg_stat_database``, the publisher's own
taken out; every statement of a request is one in autocommit), Redis round trips (commands
sent by clients, seen with MONITOR for ``--sample-seconds``, the event bus's own and those a
script runs left out) and, where the server reports it, SQL statements of the edge path
(``/metrics``).

The servers, the private redis-server, the throwaway PostgreSQL database, the seed and the
process plumbing are ``bench/streams.py``'s; ``--server-tree DIR`` also measures a copy of
another tree first (``git archive main | tar -x -C DIR``), so before and after are compared in
one run. ``--nginx`` puts the shipped nginx configuration (``deploy/start-nginx``) in front of
the server processes, as deployed.

Usage (from the repository root)::

    .venv/bin/python bench/polling.py --server-tree /tmp/main-tree   # about 8 minutes
    .venv/bin/python bench/polling.py --clients 1000 --seconds 15     # a smoke run

Ends with one summary line per endpoint (of the tree under test, the last line overall):
``polling: <clients> clients, <wanted>/s wanted, <served>/s served, p50 <ms> ms, p99 <ms> ms,
errors <n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shlex
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streams
from streams import HOST, REPO_ROOT, Child, ask_all, hist_percentile, log

TARGET_SHARE = 0.95
TARGET_P99_MS = 50.0
BUS_COMMANDS = ("XREAD", "XADD", "XRANGE", "XREVRANGE", "XTRIM", "XINFO", "PING", "INFO")

# =============================================================================================
# Load generator (a child process: stdlib + uvloop only)
# =============================================================================================


class Poller:
    """One viewer polling on its own keep-alive connection, with its own credential."""

    def __init__(self, gen: PollGenerator, port: int, scan: str, head: int, credential: str):
        self.gen = gen
        self.port = port
        self.scan = scan
        self.after = head
        self.etag = ""
        kind, _, secret = credential.partition(":")
        self.auth = (
            f"Authorization: Bearer {secret}\r\n"
            if kind == "token"
            else f"Cookie: sessionid={secret}\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def request(self, route: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None and self.writer is not None
        if route == "status":
            target = f"/api/scans/{self.scan}/status"
            extra = f"If-None-Match: {self.etag}\r\n" if self.etag else ""
        else:
            target = f"/api/scans/{self.scan}/events?after={self.after}"
            extra = ""
        self.writer.write(
            (
                f"GET {target} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n{self.auth}"
                f"Accept: application/json\r\n{extra}\r\n"
            ).encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"etag":
                self.etag = value.decode()
            elif name == b"connection" and value.lower() == b"close":
                close = True
        body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body

    async def run(self, route: str, interval: float) -> None:
        gen = self.gen
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.uniform(0, interval)
        while gen.route == route:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if gen.route != route:
                return
            started = loop.time()
            try:
                status, body = await asyncio.wait_for(self.request(route), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                if gen.measuring:
                    gen.errors[type(exc).__name__] += 1
                self.close()
                next_at = loop.time() + interval
                continue
            unchanged = status == 304
            if route == "events" and status == 200:
                page = json.loads(body)
                unchanged = not page["events"] and not page["reset"]
                self.after = page["last_event_id"]
            if gen.measuring:
                gen.answers += 1
                gen.statuses[status] += 1
                gen.unchanged += unchanged
                gen.hist[int((loop.time() - started) * 1000 / streams.LAT_BUCKET_MS)] += 1
            next_at += interval
            if next_at < loop.time():
                next_at = loop.time()


class PollGenerator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.clients = [Poller(self, *client) for client in config["clients"]]
        self.route = ""
        self.measuring = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self) -> None:
        self.answers = 0
        self.unchanged = 0
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.hist: Counter[int] = Counter()

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command["cmd"]
        if name == "poll":
            self.route = command["route"]
            for client in self.clients:
                task = asyncio.get_running_loop().create_task(
                    client.run(command["route"], command["interval"])
                )
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            return {}
        if name == "measure":
            if command["on"]:
                self.reset()
            self.measuring = command["on"]
            return {}
        if name == "count":
            return {"answers": self.answers}
        if name == "stats":
            return {
                "answers": self.answers,
                "unchanged": self.unchanged,
                "statuses": dict(self.statuses),
                "errors": dict(self.errors),
                "hist": dict(self.hist),
            }
        if name == "stop":
            self.route = ""
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            for client in self.clients:
                client.close()
            return {}
        raise ValueError(name)


async def _generator_main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    gen = PollGenerator(json.loads(await reader.readline()))
    print(json.dumps({"ready": len(gen.clients)}), flush=True)
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "exit":
            return
        print(json.dumps(await gen.command(command)), flush=True)


def generator_role() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(_generator_main())


# =============================================================================================
# Seed: a credential per client (a child with the servers' environment)
# =============================================================================================


def seed_role(org_id: str, clients: int, users: int) -> None:
    """``users`` viewers of the organization; half the clients get a token of their own, half
    a signed-in session of their own, round-robin over the users."""
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from scanpulse.tenancy.models import ApiToken, Membership, Role
    from scanpulse.tenancy.tokens import generate_token, token_digest

    User = get_user_model()
    people = User.objects.bulk_create(
        User(
            username=f"viewer{index}@bench.example",
            email=f"viewer{index}@bench.example",
            password=make_password(None),
        )
        for index in range(users)
    )
    Membership.objects.bulk_create(
        Membership(user=user, organization_id=org_id, role=Role.VIEWER) for user in people
    )
    store = SessionStore()
    expires = timezone.now() + timedelta(days=1)
    credentials: list[str] = []
    tokens: list[ApiToken] = []
    sessions: list[Session] = []
    for index in range(clients):
        # Each user gets as many sessions as tokens: with 250 users, 20 sessions of one user
        # poll 400 times a minute, within the API's per-user limit (600/minute by default).
        user = people[(index // 2) % users]
        if index % 2 == 0:
            token = generate_token()
            tokens.append(
                ApiToken(
                    user=user, name=f"poll {index}", prefix=token[:12], digest=token_digest(token)
                )
            )
            credentials.append(f"token:{token}")
        else:
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: "scanpulse.tenancy.sso.PasswordBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            sessions.append(
                Session(session_key=key, session_data=store.encode(data), expire_date=expires)
            )
            credentials.append(f"session:{key}")
    ApiToken.objects.bulk_create(tokens, batch_size=1000)
    Session.objects.bulk_create(sessions, batch_size=1000)
    print(json.dumps({"credentials": credentials}), flush=True)


# =============================================================================================
# Orchestrator
# =============================================================================================


class RedisCommands(threading.Thread):
    """Commands clients send to Redis (MONITOR), the event bus's and scripts' own left out."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        import redis

        self.client = redis.Redis(host=HOST, port=port)
        self.monitor = self.client.monitor()
        self.monitor.connection.send_command("MONITOR")
        self.monitor.connection.read_response()
        self.counts: Counter[str] = Counter()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                command = self.monitor.next_command()
            except Exception:
                return
            if command.get("client_type") == "lua":
                continue
            name = command["command"].split(" ", 1)[0].upper()
            if name not in BUS_COMMANDS and "scanpulse:stream" not in command["command"]:
                self.counts[name] += 1

    def stop(self) -> Counter[str]:
        self._done.set()
        with contextlib.suppress(Exception):
            self.monitor.connection.disconnect()
        self.join(2)
        self.client.close()
        return self.counts


class PollBench(streams.Bench):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.credentials: list[str] = []
        self.summaries: list[tuple[str, str, dict[str, Any]]] = []

    def setup(self) -> None:
        super().setup()  # redis, database, migrations, the organization, scans
        started = time.monotonic()
        out = streams.subprocess.run(
            [
                sys.executable,
                __file__,
                "--role",
                "seed",
                "--org",
                self.org,
                "--clients",
                str(self.args.clients),
                "--users",
                str(self.args.users),
            ],
            env=self.env,
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        self.credentials = json.loads(out.stdout.strip().splitlines()[-1])["credentials"]
        log(f"seeded {len(self.credentials):,} credentials in {time.monotonic() - started:.1f} s")

    def pg_transactions(self) -> int | None:
        """Transactions of the bench database so far; None when PostgreSQL refuses a
        connection (a saturated baseline can take every one)."""
        if not self.db_name:
            return 0
        import psycopg

        admin = f"{self.args.postgres.rstrip('/')}/postgres"
        for _ in range(5):
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    row = conn.execute(
                        "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                        "WHERE datname = %s",
                        (self.db_name,),
                    ).fetchone()
                return int(row[0]) if row else 0
            except psycopg.OperationalError:
                time.sleep(1)
        return None

    def start_pollers(self) -> None:
        ports = self.client_ports()  # nginx when it is in front, else each server in turn
        heads = self.scan_heads()
        clients = []
        for k in range(self.args.clients):
            scan = self.scans[k % len(self.scans)]
            viewer = k // len(self.scans)
            clients.append(
                (ports[viewer % len(ports)], scan, heads.get(scan, 0), self.credentials[k])
            )
        for index in range(self.args.generators):
            child = Child(
                [sys.executable, __file__, "--role", "generator"],
                {**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                self.tmp / f"poll-generator-{index}.log",
                f"generator {index}",
            )
            child.send({"clients": clients[index :: self.args.generators]})
            child.receive()
            self.generators.append(child)

    def run(self) -> None:
        args = self.args
        self.setup()
        trees: list[tuple[str, Path | None]] = []
        if args.server_tree is not None:
            trees.append(("before", args.server_tree))
        trees.append(("after", None))
        for label, tree in trees:
            self.args.server_tree = tree
            for route in args.routes:
                self.phase(label, route)
        self.args.server_tree = trees[0][1]

    def phase(self, label: str, route: str) -> None:
        args = self.args
        where = f"{args.server_tree}" if args.server_tree else "this tree"
        log(f"{label} ({where}): /{route}, {args.clients:,} clients every {args.interval:g} s")
        # Every client comes from 127.0.0.1: the per-address API limit would refuse most of
        # them; the per-token (per-user for sessions) limit stays on.
        self.start_servers(
            "scanpulse.config.asgi:application", env={"SCANPULSE_THROTTLE_IP_RATE": ""}
        )
        self.start_publisher()
        self.start_pollers()
        ask_all(self.generators, {"cmd": "poll", "route": route, "interval": args.interval})
        # Every poller has an ETag or a position, and each process has read its credentials.
        time.sleep(max(args.interval * 2 + 1, args.warmup))
        assert self.publisher is not None
        appended0 = self.publisher.ask({"cmd": "stats"})["appended"]
        metrics0 = self.edge_metrics()
        xacts0 = self.pg_transactions()
        cpu0, busy0 = self.server_cpu(), streams.machine_busy()
        ask_all(self.generators, {"cmd": "measure", "on": True})
        t0 = time.monotonic()
        time.sleep(args.seconds)
        ask_all(self.generators, {"cmd": "measure", "on": False})
        window = time.monotonic() - t0
        cpu, busy = self.server_cpu() - cpu0, streams.machine_busy() - busy0
        xacts1 = self.pg_transactions()
        xacts = xacts1 - xacts0 if xacts0 is not None and xacts1 is not None else None
        appended = self.publisher.ask({"cmd": "stats"})["appended"] - appended0
        metrics = self.edge_metrics()
        stats = self.merged_stats()
        # Redis round trips, sampled after the measured window (MONITOR slows Redis down).
        sample = RedisCommands(self.redis_port)
        sample.start()
        answered0 = sum(r["answers"] for r in ask_all(self.generators, {"cmd": "count"}))
        ask_all(self.generators, {"cmd": "measure", "on": True})
        time.sleep(args.sample_seconds)
        ask_all(self.generators, {"cmd": "measure", "on": False})
        sampled = sum(r["answers"] for r in ask_all(self.generators, {"cmd": "count"}))
        redis_counts = sample.stop()
        del answered0
        ask_all(self.generators, {"cmd": "stop"})
        self.stop_generators()
        self.publisher.ask({"cmd": "stop"})
        self.publisher.stop()
        self.publisher = None
        self.stop_servers()

        answers = stats["answers"]
        errors = sum(stats["errors"].values()) + sum(
            n for status, n in stats["statuses"].items() if status not in (200, 304)
        )
        edge_sql = metrics.get("scanpulse_stream_db_queries_total")
        if edge_sql is not None:
            edge_sql -= metrics0.get("scanpulse_stream_db_queries_total", 0.0)
        figures = {
            "tree": where,
            "route": route,
            "clients": args.clients,
            "wanted": args.clients / args.interval,
            "served": answers / window,
            "p50": hist_percentile(stats["hist"], 0.5),
            "p99": hist_percentile(stats["hist"], 0.99),
            "errors": errors,
            "statuses": dict(sorted(stats["statuses"].items())),
            "error_kinds": stats["errors"],
            "unchanged": stats["unchanged"] / answers if answers else 0.0,
            "db_per_answer": max(0, xacts - appended) / answers
            if answers and xacts is not None
            else float("nan"),
            "edge_sql_per_answer": edge_sql / answers if edge_sql is not None and answers else None,
            "redis_per_answer": sum(redis_counts.values()) / sampled if sampled else float("nan"),
            "redis_commands": dict(redis_counts.most_common(6)),
            "server_cpu": cpu / window,
            "other_load": busy / window - cpu / window,
            "machine_busy": busy / window,
            "window": window,
            "appended": appended,
        }
        self.summaries.append((label, route, figures))
        log(
            f"  served {figures['served']:,.0f}/s of {figures['wanted']:,.0f}/s, p50 "
            f"{figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, errors {errors} "
            f"{dict(stats['errors']) or ''}; statuses {figures['statuses']}; unchanged "
            f"{figures['unchanged']:.0%}; DB transactions/answer {figures['db_per_answer']:.3f}; "
            f"Redis round trips/answer {figures['redis_per_answer']:.2f} {figures['redis_commands']}"
            f"; server CPU {figures['server_cpu']:.0%} of a core, machine busy "
            f"{figures['machine_busy']:.2f} cores"
        )

    def edge_metrics(self) -> dict[str, float]:
        """The servers' /metrics, of the tree under test only: a saturated baseline process
        answers nothing in time, and has no polling counters anyway."""
        if self.args.server_tree is not None:
            return {}
        try:
            return self.metrics()
        except OSError as exc:
            log(f"  /metrics unreadable ({exc}): the edge's SQL count is left out")
            return {}

    def merged_stats(self) -> dict[str, Any]:
        merged: dict[str, Any] = {
            "answers": 0,
            "unchanged": 0,
            "statuses": Counter(),
            "errors": Counter(),
            "hist": Counter(),
        }
        for reply in ask_all(self.generators, {"cmd": "stats"}):
            merged["answers"] += reply["answers"]
            merged["unchanged"] += reply["unchanged"]
            merged["statuses"].update({int(k): v for k, v in reply["statuses"].items()})
            merged["errors"].update(reply["errors"])
            merged["hist"].update({int(k): v for k, v in reply["hist"].items()})
        return merged

    def report(self, command: str, load_before: str, load_after: str) -> bool:
        print()
        print("Polling at 10,000 clients — bench/polling.py")
        print(f"command:  {command}")
        print(f"date:     {time.strftime('%Y-%m-%d %H:%M %Z')}")
        for key, value in streams.machine_facts().items():
            print(f"{key + ':':9} {value}")
        print(
            f"setup:    {self.args.clients:,} clients = {self.args.scans} scans × "
            f"{self.args.clients // self.args.scans} viewers, half bearer tokens, half sessions "
            f"({self.args.users} users), {self.args.processes} server processes, "
            f"{self.args.generators} generator processes, {self.args.rate:g} event/s per scan; "
            f"PostgreSQL"
            + ("; clients through nginx (deploy/start-nginx)" if self.args.nginx else "")
        )
        print(f"load:     before {load_before}; after {load_after} (1/5/15-min load averages)")
        print()
        header = (
            f"{'tree':7} {'route':7} {'served/s':>9} {'wanted/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>7} {'unchanged':>9} {'DB/answer':>9} {'Redis/answer':>12} "
            f"{'server CPU':>10} {'other load':>10}"
        )
        print(header)
        for label, route, f in self.summaries:
            print(
                f"{label:7} {route:7} {f['served']:9,.0f} {f['wanted']:9,.0f} {f['p50']:8.1f} "
                f"{f['p99']:8.1f} {f['errors']:7,} {f['unchanged']:9.0%} "
                f"{f['db_per_answer']:9.3f} {f['redis_per_answer']:12.2f} "
                f"{f['server_cpu']:10.0%} {f['other_load']:10.2f}"
            )
        print()
        ok = True
        for label, _route, f in self.summaries:
            if label != "after":
                continue
            met = (
                f["served"] >= TARGET_SHARE * f["wanted"]
                and f["p99"] <= TARGET_P99_MS
                and f["errors"] == 0
            )
            ok = ok and met
        for label, _route, f in self.summaries:
            if label == "after":
                print(
                    f"polling: {f['clients']} clients, {f['wanted']:.0f}/s wanted, "
                    f"{f['served']:.0f}/s served, p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms, "
                    f"errors {f['errors']}"
                )
        return ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["generator", "seed"], help=argparse.SUPPRESS)
    parser.add_argument("--org", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=100, help="clients are spread evenly")
    parser.add_argument(
        "--users",
        type=int,
        default=250,
        help="credentials are spread evenly (keep a user's sessions under its rate limit)",
    )
    parser.add_argument("--rate", type=float, default=0.1, help="events/s per scan")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between polls")
    parser.add_argument("--seconds", type=float, default=45, help="measured window per phase")
    parser.add_argument(
        "--warmup", type=float, default=20, help="seconds of polling before the measurement"
    )
    parser.add_argument("--sample-seconds", type=float, default=3, help="Redis MONITOR sample")
    parser.add_argument(
        "--routes", nargs="+", default=["status", "events"], choices=["status", "events"]
    )
    parser.add_argument("--processes", type=int, default=2, help="server processes")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    parser.add_argument("--backlog", type=int, default=4096, help="uvicorn --backlog")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--server-tree",
        type=Path,
        help="also measure this copy of the source first, as the baseline "
        "(`git archive main | tar -x -C DIR`)",
    )
    parser.add_argument(
        "--nginx",
        action="store_true",
        help="poll through nginx (deploy/start-nginx: the configuration `scanpulse "
        "nginx_config` prints) in front of the server processes",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    # What bench/streams.py's machinery reads.
    args.sqlite = False
    args.server_env = []
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.role == "generator":
        generator_role()
        return 0
    if args.role == "seed":
        seed_role(args.org, args.clients, args.users)
        return 0
    command = shlex.join([os.path.relpath(sys.executable, REPO_ROOT), *sys.argv])
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    bench = PollBench(args)
    try:
        with streams._interruptible():
            bench.run()
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        bench.close()
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    ok = bench.report(command, load_before, load_after)
    if args.json:
        args.json.write_text(json.dumps(bench.summaries, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
