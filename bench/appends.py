"""Event-log appends of many concurrent scans on PostgreSQL: appends/s and append latency.

Phases (each with a fresh set of running scans, in one throwaway database per source tree):

1. ``--scans`` scans of ONE organization (the hot-row case);
2. ``--scans`` scans across ``--orgs`` organizations;
3. ``--small`` scans of one organization (the per-scan rate phase 2 is compared with).

Every scan appends at its natural rate through ``scanpulse.scans.log.append_event``, the path
the worker's reporter takes: a progress event every ``--interval`` seconds (the reporter's
coalescing interval) and a log line every ``--log-every`` seconds, skipping ticks it is late
for as the coalescing reporter does. Scans run as threads in ``--processes`` worker processes,
each thread with its own database connection, as a worker's scan has. Each committed event is
published to a private Redis on a free port, as in a deployment.

By default a private PostgreSQL cluster (``initdb`` on a free port, default durability:
``fsync`` and ``synchronous_commit`` on) holds the databases, so that 200 connections fit;
``--postgres URL`` uses an existing server instead. ``--baseline REF`` (or ``--server-tree
DIR``) runs the same phases with another copy of the source (``git archive REF scanpulse``) in
the same run, side by side. After each phase the org stream of every organization is checked:
numbers 1..N, each once.

Ends with one summary line for the current tree:
``appends: <scans> scans, <orgs> orgs, <n>/s, p50 <ms> ms, p99 <ms> ms``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
PG_BIN = Path("/usr/lib/postgresql")


# ----------------------------------------------------------------------------- worker side


def _django(tree: str) -> None:
    sys.path.insert(0, tree)
    import django

    django.setup()


def child_setup(orgs: int, scans_per_org: list[int]) -> dict[str, Any]:
    """Migrate (first call) and create ``orgs`` organizations with running scans; return the
    scan ids per organization."""
    from django.core.management import call_command
    from django.utils import timezone

    from scanpulse.projects.models import Project
    from scanpulse.scans.models import Scan
    from scanpulse.tenancy.models import Organization

    call_command("migrate", verbosity=0, interactive=False)
    tag = f"{time.time_ns()}"
    result: list[dict[str, Any]] = []
    for index in range(orgs):
        org = Organization.objects.create(name=f"bench-{tag}-{index}")
        project = Project.objects.create(
            organization=org, name="app", repo_url="https://git.example/app.git"
        )
        scans = [
            Scan(
                project=project,
                organization=org,
                ref="main",
                status="running",
                started_at=timezone.now(),
            )
            for _ in range(scans_per_org[index])
        ]
        Scan.objects.bulk_create(scans)
        result.append({"org": str(org.pk), "scans": [str(scan.pk) for scan in scans]})
    return {"orgs": result}


def child_run(
    scans: list[str],
    start_at: float,
    warmup: float,
    duration: float,
    interval: float,
    log_every: float,
) -> dict[str, Any]:
    from django.db import connection

    from scanpulse.scans.log import append_event

    window = (start_at + warmup, start_at + warmup + duration)
    end = window[1] + 0.5
    latencies: list[float] = []
    counted = [0]
    errors: list[str] = []
    lock = threading.Lock()

    def scan(scan_id: str) -> None:
        mine: list[float] = []
        rng = random.Random(scan_id)
        next_tick = start_at + rng.random() * interval
        next_log = start_at + rng.random() * log_every
        progress = 0
        try:
            while True:
                now = time.time()
                if now >= end:
                    break
                if next_tick > now:
                    time.sleep(next_tick - now)
                kind = "progress"
                if time.time() >= next_log:
                    kind, next_log = "log", next_log + log_every
                progress = (progress + 1) % 100
                began = time.perf_counter()
                at = time.time()
                if kind == "progress":
                    append_event(
                        scan_id=scan_id,
                        kind="progress",
                        data={"progress": progress},
                        snapshot={"progress": progress},
                    )
                else:
                    append_event(
                        scan_id=scan_id,
                        kind="log",
                        data={"level": "info", "message": f"Analyzed file {progress}.py"},
                    )
                took = time.perf_counter() - began
                if window[0] <= at < window[1]:
                    mine.append(took * 1000)
                # Late ticks are skipped, as the coalescing reporter skips them.
                next_tick = max(next_tick + interval, time.time())
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)
                counted[0] += len(mine)

    threads = [threading.Thread(target=scan, args=(scan_id,)) for scan_id in scans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors[:5], "error_count": len(errors)}


def child_check(orgs: list[str]) -> dict[str, Any]:
    """Each org stream: numbers 1..N each once, per-scan order kept within it."""
    from django.db import connection

    problems: list[str] = []
    total = 0
    with connection.cursor() as cursor:
        for org in orgs:
            cursor.execute(
                "SELECT count(*), count(org_seq), count(DISTINCT org_seq), min(org_seq), "
                "max(org_seq) FROM events_scanevent WHERE organization_id = %s",
                [org],
            )
            count, numbered, distinct, low, high = cursor.fetchone()
            total += count
            if not (count == numbered == distinct == (high or 0) and (low or 1) == 1):
                problems.append(
                    f"{org}: {count} events, numbers {low}..{high}, {distinct} distinct"
                )
            cursor.execute(
                "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY scan_id "
                "ORDER BY org_seq) AS before FROM events_scanevent WHERE organization_id = %s) "
                "AS ordered WHERE before IS NOT NULL AND before <> seq - 1",
                [org],
            )
            reordered = cursor.fetchone()[0]
            if reordered:
                problems.append(f"{org}: {reordered} events out of scan order")
    return {"events": total, "problems": problems}


def child_main() -> None:
    _django(os.environ["BENCH_TREE"])
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("command")
        if name == "quit":
            break
        handler = {"setup": child_setup, "run": child_run, "check": child_check}[name]
        reply = handler(**command)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# ----------------------------------------------------------------------------- parent side


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_busy() -> float:
    with open("/proc/stat") as f:
        fields = [int(value) for value in f.readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Child:
    def __init__(self, tree: Path, env: dict[str, str], log: Path) -> None:
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child"],
            env={**env, "BENCH_TREE": str(tree), "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=tree,
        )

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited ({self.process.wait()}); see {self._log.name}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.process.poll() is None:
            self.send(command="quit")
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class PrivatePostgres:
    """A throwaway cluster in ``directory`` on a free port (as user postgres when root)."""

    def __init__(self, directory: Path, max_connections: int) -> None:
        versions = sorted(PG_BIN.glob("*/bin/initdb"))
        if not versions:
            raise SystemExit(
                "no PostgreSQL server binaries under /usr/lib/postgresql; use --postgres"
            )
        self.bin = versions[-1].parent
        self.dir = directory
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        directory.mkdir()
        if self.as_user:
            shutil.chown(directory, "postgres")
            os.chmod(directory.parent, 0o755)
        self._run("initdb", "-D", str(directory / "data"), "-U", "postgres", "-A", "trust")
        self._run(
            "pg_ctl",
            "-D",
            str(directory / "data"),
            "-l",
            str(directory / "log"),
            "-w",
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={directory}"
            f" -c max_connections={max_connections} -c shared_buffers=256MB",
            "start",
        )
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args], check=True, stdout=subprocess.DEVNULL
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")


def pg_backend_pids(admin: str, database: str) -> list[int]:
    import psycopg

    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return [int(row[0]) for row in rows]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-appends-"))
        self.cleanups: list[Any] = []

    def cleanup(self) -> None:
        for action in reversed(self.cleanups):
            try:
                action()
            except Exception as exc:
                print(f"cleanup: {exc}", file=sys.stderr)
        if self.args.keep:
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start_services(self) -> None:
        import psycopg

        args = self.args
        if args.postgres:
            self.admin = args.postgres.rstrip("/")
        else:
            cluster = PrivatePostgres(self.tmp / "pg", max_connections=args.scans + 40)
            self.cleanups.append(cluster.stop)
            self.admin = cluster.url
        with psycopg.connect(f"{self.admin}/postgres", autocommit=True) as conn:
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', "
                    "'synchronous_commit', 'max_connections', 'server_version')"
                ).fetchall()
            )
        print(
            f"postgres {settings.get('server_version')} at {self.admin}: fsync "
            f"{settings.get('fsync')}, synchronous_commit {settings.get('synchronous_commit')}, "
            f"max_connections {settings.get('max_connections')}"
        )
        self.redis_port = free_port()
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        self.cleanups.append(lambda: (redis.terminate(), redis.wait(10)))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    def database(self, label: str) -> tuple[str, str]:
        import psycopg

        name = f"bench_appends_{label}_{os.getpid()}"
        with psycopg.connect(f"{self.admin}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(f"{self.admin}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        self.cleanups.append(drop)
        return name, f"{self.admin}/{name}"

    def env(self, database_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "scanpulse.config.settings.embedded",
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "600",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "SCANPULSE_DATA_DIR": str(self.tmp / "data"),
            "SECRET_KEY": "bench-" + "x" * 50,
            "LOG_LEVEL": "WARNING",
            "TMPDIR": str(self.tmp),
        }

    def run_tree(self, label: str, tree: Path) -> list[dict[str, Any]]:
        args = self.args
        db_name, url = self.database(label)
        env = self.env(url)
        workers = [Child(tree, env, self.tmp / f"{label}-{n}.log") for n in range(args.processes)]
        self.cleanups.append(lambda: [worker.close() for worker in workers])
        phases = [
            (args.scans, 1),
            (args.scans, args.orgs),
            (args.small, 1),
        ]
        results = []
        for scans, orgs in phases:
            per_org = [scans // orgs + (1 if i < scans % orgs else 0) for i in range(orgs)]
            workers[0].send(command="setup", orgs=orgs, scans_per_org=per_org)
            created = workers[0].receive()["orgs"]
            scan_ids = [scan for org in created for scan in org["scans"]]
            random.shuffle(scan_ids)
            start_at = time.time() + 2.0
            shares = [scan_ids[n :: len(workers)] for n in range(len(workers))]
            for worker, share in zip(workers, shares, strict=True):
                worker.send(
                    command="run",
                    scans=share,
                    start_at=start_at,
                    warmup=args.warmup,
                    duration=args.duration,
                    interval=args.interval,
                    log_every=args.log_every,
                )
            time.sleep(max(0.0, start_at + args.warmup - time.time()))
            pids = [worker.process.pid for worker in workers] + pg_backend_pids(self.admin, db_name)
            busy0, cpu0, wall0 = machine_busy(), tree_cpu(pids), time.monotonic()
            time.sleep(args.duration)
            busy1, cpu1, wall1 = machine_busy(), tree_cpu(pids), time.monotonic()
            latencies: list[float] = []
            errors: list[str] = []
            for worker in workers:
                reply = worker.receive()
                latencies.extend(reply["latencies"])
                errors.extend(reply["errors"])
            workers[0].send(command="check", orgs=[org["org"] for org in created])
            check = workers[0].receive()
            wall = wall1 - wall0
            own = (cpu1 - cpu0) / wall
            result = {
                "tree": label,
                "scans": scans,
                "orgs": orgs,
                "wanted": scans * (1 / args.interval),
                "rate": len(latencies) / args.duration,
                "per_scan": len(latencies) / args.duration / scans,
                "p50": percentile(latencies, 0.50),
                "p99": percentile(latencies, 0.99),
                "max": max(latencies, default=0.0),
                "errors": errors,
                "own_cpu": own,
                "other_load": max(0.0, (busy1 - busy0) / wall - own),
                "stream_ok": not check["problems"],
                "problems": check["problems"][:3],
            }
            results.append(result)
            print(
                f"  {label:9} {scans:4} scans {orgs:3} orgs: {result['rate']:7.0f}/s "
                f"({result['per_scan']:5.2f}/s per scan, wanted {result['wanted']:.0f}/s), "
                f"p50 {result['p50']:6.1f} ms, p99 {result['p99']:7.1f} ms, max "
                f"{result['max']:7.1f} ms; cpu {own:.2f} cores, other load "
                f"{result['other_load']:.2f}; org streams "
                f"{'gap-free' if result['stream_ok'] else 'BROKEN ' + str(result['problems'])}"
                + (f"; {len(errors)} errors: {errors[:2]}" if errors else ""),
                flush=True,
            )
        for worker in workers:
            worker.close()
        return results

    def baseline_tree(self) -> Path | None:
        if self.args.server_tree:
            return Path(self.args.server_tree).resolve()
        if not self.args.baseline:
            return None
        tree = self.tmp / "baseline"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", self.args.baseline, "scanpulse"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scans", type=int, default=200, help="scans in phases 1 and 2")
    parser.add_argument("--orgs", type=int, default=20, help="organizations in phase 2")
    parser.add_argument("--small", type=int, default=10, help="scans of one org in phase 3")
    parser.add_argument("--processes", type=int, default=4, help="worker processes")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds a phase")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between events")
    parser.add_argument(
        "--log-every",
        type=float,
        default=1.0,
        help="seconds between log lines (they replace a progress tick)",
    )
    parser.add_argument(
        "--postgres",
        help="an existing server (URL without database name) instead of a private cluster",
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also run the phases with `git archive REF scanpulse` (e.g. main)",
    )
    parser.add_argument(
        "--server-tree", metavar="DIR", help="also run the phases with this copy of the source"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.child:
        child_main()
        return 0
    bench = Bench(args)
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(
            f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, "
            f"{os.cpu_count()} cores"
        )
        bench.start_services()
        results: list[dict[str, Any]] = []
        baseline = bench.baseline_tree()
        if baseline is not None:
            results += bench.run_tree("baseline", baseline)
        current = bench.run_tree("current", REPO_ROOT)
        results += current
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        bench.cleanup()
    print()
    print("| tree | scans | orgs | appends/s | per scan /s | p50 ms | p99 ms | org streams |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r['tree']} | {r['scans']} | {r['orgs']} | {r['rate']:.0f} | "
            f"{r['per_scan']:.2f} | {r['p50']:.1f} | {r['p99']:.1f} | "
            f"{'gap-free' if r['stream_ok'] else 'broken'} |"
        )
    one, many, small = current
    ok = (
        one["rate"] >= 2000
        and one["p99"] <= 25
        and many["per_scan"] >= small["per_scan"] * 0.97
        and all(r["stream_ok"] and not r["errors"] for r in current)
    )
    print(
        f"per-scan rate: {many['per_scan']:.2f}/s with {many['scans']} scans in {many['orgs']} "
        f"orgs vs {small['per_scan']:.2f}/s with {small['scans']} in one"
    )
    print(
        f"appends: {one['scans']} scans, {one['orgs']} orgs, {one['rate']:.0f}/s, "
        f"p50 {one['p50']:.1f} ms, p99 {one['p99']:.1f} ms"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
