"""Findings-heavy scans: one scan with 200,000 findings through the whole platform.

The findings come from a generated repository read by the benchmark's analyzer plugin
(``bench/plugins/heavy_findings.py``: every line of a ``heavy/**.txt`` file is one finding, of
20 rules, every severity and confidence, spread over 20 folders), so everything after the
analyzer is the real pipeline: the git fetch, the isolated analyzer child, fingerprints,
classification, the SARIF report, saving the findings and bringing the project's alerts up to
date. Only that analyzer runs (no other analyzer reads the generated files).

For each code (this tree, and ``main`` from ``git archive main`` as the baseline) and each
database (a throwaway PostgreSQL database; ``--sqlite`` adds embedded SQLite) it measures, one
after the other and each in a fresh worker process (the embedded in-process executor, as
``bench/scan_speed.py`` drives it):

1. the full scan: the SARIF and saving phases from the scan's event log, and the peak PSS of
   the worker process and its analyzer children (sampled every 0.1 s);
2. cancel requests in each phase (analysis, SARIF, saving): seconds from the request
   (``scans.services.scan_cancel``) to the cancelled terminal status;
3. with the scan's findings and alerts saved: latency of the scan page, the findings API (first
   and last page, unfiltered and with several filters) and the project page with its alerts
   list and the alerts API, through Django's test client (in-process, signed in), median and
   p99 of ``--requests`` requests each after two warm-up requests.

Usage (from the repository root, after ``make test`` has created ``.venv``)::

    .venv/bin/python bench/findings.py                      # 200,000 findings, PostgreSQL
    .venv/bin/python bench/findings.py --findings 20000 --sqlite --no-baseline

Ends with ``findings: <n> findings, save <s> s, sarif <s> s, peak <mb> MB, page p99 <ms> ms``
(this tree, PostgreSQL). Everything runs in one temporary directory and throwaway databases,
removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scan_speed

REPO_ROOT = scan_speed.REPO_ROOT
PLUGINS = Path(__file__).resolve().parent / "plugins"
TARGETS = {"save": 20.0, "sarif": 10.0, "peak": 600.0, "cancel": 5.0, "page": 300.0}
PER_FILE = 1000
SEVERITIES = ("critical", "high", "medium", "low", "info")
CONFIDENCES = ("high", "medium", "low")
# Set per run: the database and the code the platform's processes use.
EXTRA_ENV: dict[str, str] = {}


def _platform_env(data_dir: Path, tmp: Path) -> dict[str, str]:
    env = _original_platform_env(data_dir, tmp)
    env.update(EXTRA_ENV)
    return env


_original_platform_env = scan_speed.platform_env
scan_speed.platform_env = _platform_env  # platform_setup builds its environment with it


# --- the repository -------------------------------------------------------------------------


def make_source(base: Path, findings: int) -> Path:
    source = base / "source"
    for index in range((findings + PER_FILE - 1) // PER_FILE):
        folder = source / "heavy" / f"part{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for line in range(min(PER_FILE, findings - index * PER_FILE)):
            n = index * PER_FILE + line
            lines.append(
                f"HEAVY{n % 20:03d}|{SEVERITIES[n % 5]}|{CONFIDENCES[n % 3]}|"
                f"generated finding {n} of file {index}: something to look at\n"
            )
        (folder / f"file{index:05d}.txt").write_text("".join(lines))
    (source / "README.md").write_text("A generated repository with many findings.\n")
    return source


# --- helpers, each in a fresh process ----------------------------------------------------------


def _setup_django() -> None:
    import django

    django.setup()


def _wait_terminal(scan_id: Any, timeout: float = 3600) -> str:
    from scanpulse.scans.models import TERMINAL_STATUSES, Scan

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Scan.objects.filter(pk=scan_id).values_list("status", flat=True).get()
        if status in TERMINAL_STATUSES:
            return str(status)
        time.sleep(0.02)
    raise SystemExit("the scan did not end")


def _reached(scan_id: Any, phase: str) -> bool:
    from scanpulse.scans.models import ScanEvent

    events = ScanEvent.objects.filter(scan_id=scan_id)
    if phase == "analysis":
        return events.filter(kind="log", data__message__endswith="files to analyze.").exists()
    step = {"sarif": "Generating SARIF report", "save": "Saving results"}[phase]
    return events.filter(kind="step", data__step=step).exists()


def _helper_cancel(project_id: str, phase: str, delay: str) -> None:
    """A scan cancelled ``delay`` seconds into ``phase``: seconds from the request to the
    terminal status."""
    _setup_django()
    from scanpulse.projects.models import Project
    from scanpulse.scans.executor import reset_executor
    from scanpulse.scans.models import TERMINAL_STATUSES, Scan
    from scanpulse.scans.services import scan_cancel, scan_create

    project = Project.objects.select_related("created_by").get(pk=project_id)
    scan = scan_create(user=project.created_by, project=project, ref="main")
    while not _reached(scan.id, phase):
        scan.refresh_from_db()
        if scan.status in TERMINAL_STATUSES:
            print(json.dumps({"phase": phase, "status": scan.status, "late": True}))
            return
        time.sleep(0.01)
    time.sleep(float(delay))
    scan.refresh_from_db()
    requested = time.monotonic()
    scan_cancel(user=project.created_by, scan=scan)
    status = _wait_terminal(scan.id)
    seconds = time.monotonic() - requested
    reset_executor(wait=True)
    kept = Scan.objects.get(pk=scan.id).findings.count()
    print(json.dumps({"phase": phase, "status": status, "seconds": seconds, "kept": kept}))


def _helper_pages(project_id: str, requests: str) -> None:
    _setup_django()
    from django.conf import settings
    from django.test import Client

    from scanpulse.alerts.models import Alert
    from scanpulse.projects.models import Project
    from scanpulse.scans.models import Scan

    settings.ALLOWED_HOSTS.append("testserver")
    project = Project.objects.select_related("created_by").get(pk=project_id)
    scan = Scan.objects.filter(project=project, status="completed").latest("created_at")
    count = scan.findings.count()
    client = Client()
    client.force_login(project.created_by)
    api = f"/api/scans/{scan.id}/findings/"
    last = (count + 49) // 50
    high = scan.findings.filter(severity="high").count()
    heavy_new = scan.findings.filter(tool="heavy", status="new").count()
    alerts = Alert.objects.filter(project=project).count()
    urls = {
        "scan page": f"/scans/{scan.id}/",
        "findings API, first page": api,
        "findings API, last page": f"{api}?page={last}",
        "findings API, severity=high, last page": f"{api}?severity=high&page={(high + 49) // 50}",
        "findings API, tool+status, last page": (
            f"{api}?tool=heavy&status=new&page={max(1, (heavy_new + 49) // 50)}"
        ),
        "findings API, confidence=low": f"{api}?confidence=low",
        "findings API, page_size=500, last page": f"{api}?page_size=500&page={(count + 499) // 500}",
        "project page (alerts list)": f"/projects/{project.id}/",
        "alerts API, first page": f"/api/projects/{project.id}/alerts/",
        "alerts API, last page": f"/api/projects/{project.id}/alerts/?page={(alerts + 49) // 50}",
        "alerts API, severity=critical": f"/api/projects/{project.id}/alerts/?severity=critical",
    }
    results = {}
    for name, url in urls.items():
        times = []
        status = 0
        for attempt in range(int(requests) + 2):
            start = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - start) * 1000
            status = response.status_code
            if attempt >= 2:
                times.append(elapsed)
        times.sort()
        results[name] = {
            "status": status,
            "p50": statistics.median(times),
            "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        }
    print(json.dumps({"findings": count, "alerts": alerts, "pages": results}))


class HeldExecutor:
    """An executor that runs nothing: ``--profile`` runs the scan in the main thread."""

    def submit(self, scan_id: Any) -> None:
        return None

    def cancel(self, scan_id: Any) -> None:
        return None

    def shutdown(self, wait: bool = True) -> None:
        return None


def _helper_profile(project_id: str, output: str) -> None:
    """One scan run in this process's main thread under cProfile; the statistics to
    ``output`` (for ``python -m pstats``) and the top functions by cumulative time printed."""
    import cProfile
    import pstats

    _setup_django()
    from scanpulse.projects.models import Project
    from scanpulse.scans.attempts import run_scan
    from scanpulse.scans.models import Scan
    from scanpulse.scans.services import scan_create

    project = Project.objects.select_related("created_by").get(pk=project_id)
    scan = scan_create(user=project.created_by, project=project, ref="main")
    profiler = cProfile.Profile()
    profiler.runcall(run_scan, scan_id=scan.id)
    profiler.dump_stats(output)
    stats = pstats.Stats(output)
    stats.sort_stats("cumulative").print_stats(45)
    print(json.dumps({"status": Scan.objects.get(pk=scan.id).status}))


def _helper(base: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--helper", *args],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"helper {args[0]} failed: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- one code on one database ------------------------------------------------------------------


def create_database(url: str, name: str) -> str:
    subprocess.run(
        ["psql", url + "/postgres", "-q", "-c", f'CREATE DATABASE "{name}"'],
        check=True,
        capture_output=True,
    )
    return f"{url}/{name}"


def drop_database(url: str, name: str) -> None:
    subprocess.run(
        ["psql", url + "/postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        capture_output=True,
    )


def measure(
    label: str, code: Path, database: str | None, base: Path, repo: Path, args: argparse.Namespace
) -> dict[str, Any]:
    print(f"\n{label}", flush=True)
    EXTRA_ENV.clear()
    EXTRA_ENV.update(
        PYTHONPATH=str(code),
        SCANPULSE_ANALYZERS="heavy_findings:HeavyAnalyzer",
        SCANPULSE_ANALYZER_PATHS=str(PLUGINS),
    )
    if database:
        EXTRA_ENV["DATABASE_URL"] = database
    tag = uuid.uuid4().hex[:8]
    env, project_id = scan_speed.platform_setup(base, repo, tag)
    if args.keep:
        kept = {"env": env, "project": project_id}
        (base / "kept.json").write_text(json.dumps(kept))
        print(f"  kept in {base}: re-measure the pages with `bench/findings.py --pages {base}`")
    scan_speed.ANALYZERS_OVERRIDE.clear()
    if args.profile:
        held = dict(env, SCANPULSE_SCAN_EXECUTOR="findings.HeldExecutor")
        held["PYTHONPATH"] += os.pathsep + str(Path(__file__).resolve().parent)
        result = subprocess.run(
            [sys.executable, __file__, "--helper", "profile", project_id, str(args.profile)],
            cwd=base,
            env=held,
            capture_output=True,
            text=True,
        )
        print(result.stdout[-12000:], result.stderr[-3000:])
    cancels = {}
    if not args.no_cancel:
        for phase, delay in (("analysis", "0.5"), ("sarif", "0.2"), ("save", "1.0")):
            cancels[phase] = _helper(base, env, "cancel", project_id, phase, delay)
            c = cancels[phase]
            if c.get("late"):
                print(f"  cancel in {phase}: the scan ended ({c['status']}) before the request")
            else:
                print(
                    f"  cancel in {phase}: {c['status']} after {c['seconds']:.2f} s, "
                    f"{c['kept']} findings kept",
                    flush=True,
                )
    full = scan_speed.platform_scan(base, env, project_id)
    report = full.extra
    phases = report["phases"]
    print(
        f"  full scan: {report['status']} in {full.wall:.2f} s; phases (s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
        + f"; peak PSS worker + children {scan_speed._mb(full.tree_pss_mb)} MB "
        f"(largest process RSS {max(report['self_maxrss_mb'], report['children_maxrss_mb']):.0f}"
        f" MB); other load {scan_speed._cores(full)}",
        flush=True,
    )
    if report["status"] != "completed":
        print(f"  message: {report['message']}")
    pages = _helper(base, env, "pages", project_id, str(args.requests))
    for name, page in pages["pages"].items():
        print(
            f"  {name}: HTTP {page['status']}, p50 {page['p50']:.1f} ms, p99 {page['p99']:.1f} ms"
        )
    return {
        "status": report["status"],
        "wall": full.wall,
        "save": phases.get("save"),
        "sarif": phases.get("sarif"),
        "analyze": phases.get("analyze"),
        "peak": full.tree_pss_mb,
        "other": full.other_cores,
        "cancels": cancels,
        "pages": pages,
    }


def pages_again(base: Path, requests: int) -> int:
    """The pages of what ``--keep`` kept, served by this tree (migrated first)."""
    kept = json.loads((base / "kept.json").read_text())
    env = dict(kept["env"], PYTHONPATH=str(REPO_ROOT))
    scanpulse = str(scan_speed.BIN / "scanpulse")
    scan_speed._setup_step([scanpulse, "migrate", "--noinput", "--verbosity", "0"], base, env)
    pages = _helper(base, env, "pages", kept["project"], str(requests))
    for name, page in pages["pages"].items():
        print(f"{name}: HTTP {page['status']}, p50 {page['p50']:.1f} ms, p99 {page['p99']:.1f} ms")
    slowest = max(page["p99"] for page in pages["pages"].values())
    print(f"pages: {pages['findings']} findings, slowest page p99 {slowest:.0f} ms")
    return 0 if slowest <= TARGETS["page"] else 1


def baseline_tree(base: Path, ref: str) -> Path:
    target = base / f"code-{ref}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", ref, "scanpulse"], cwd=REPO_ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=200_000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--sqlite", action="store_true", help="also measure embedded SQLite")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--baseline", default="main", help="git ref of the baseline code")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-cancel", action="store_true", help="skip the cancel scans")
    parser.add_argument("--requests", type=int, default=30, help="requests per page")
    parser.add_argument(
        "--profile", type=Path, help="first profile one scan (cProfile statistics to this file)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="build in this directory and keep it and the database (for --pages)",
    )
    parser.add_argument(
        "--pages",
        type=Path,
        metavar="DIR",
        help="only measure the pages again, on what --keep DIR kept (migrated to this tree)",
    )
    parser.add_argument("--helper", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.helper:
        {"cancel": _helper_cancel, "pages": _helper_pages, "profile": _helper_profile}[
            args.helper[0]
        ](*args.helper[1:])
        return 0
    if args.pages:
        return pages_again(args.pages, args.requests)
    print("findings: one scan with many findings through the platform")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {scan_speed.machine()}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"code: this tree at {commit} (with its uncommitted changes)")
    results: dict[tuple[str, str], dict[str, Any]] = {}
    databases: list[str] = []
    with tempfile.TemporaryDirectory(prefix="findings-") as temp:
        base = Path(temp)
        if args.keep:
            base = args.keep.resolve()
            base.mkdir(parents=True, exist_ok=False)
        source = make_source(base / "gen", args.findings)
        _tree, repo, files = scan_speed.make_repository(source, base)
        print(f"repository: {files} files, {args.findings} generated findings")
        codes = [("branch", REPO_ROOT)]
        if not args.no_baseline:
            codes.append((f"baseline {args.baseline}", baseline_tree(base, args.baseline)))
        if not args.no_postgres:
            databases.append("postgresql")
        if args.sqlite:
            databases.append("sqlite")
        for database in databases:
            for name, code in codes:
                db_name = f"bench_findings_{os.getpid()}_{uuid.uuid4().hex[:6]}"
                url = create_database(args.postgres, db_name) if database == "postgresql" else None
                try:
                    results[(name, database)] = measure(
                        f"{name}, {database}", code, url, base, repo, args
                    )
                finally:
                    if url and not args.keep:
                        drop_database(args.postgres, db_name)
    print(
        "\n| code, database | status | save s | SARIF s | peak PSS MB | cancel s "
        "(analysis / SARIF / save) | slowest page p99 ms | other load, cores |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for (name, database), r in results.items():
        cancels = " / ".join(
            "late" if c.get("late") else f"{c['seconds']:.2f}" for c in r["cancels"].values()
        )
        slowest = max(page["p99"] for page in r["pages"]["pages"].values())
        print(
            f"| {name}, {database} | {r['status']} | {_fmt(r['save'])} | {_fmt(r['sarif'])} "
            f"| {_fmt(r['peak'], 0)} | {cancels or '–'} | {slowest:.1f} | {_fmt(r['other'])} |"
        )
    main_result = results.get(("branch", databases[0])) if databases else None
    if main_result is None:
        return 1
    slowest = max(page["p99"] for page in main_result["pages"]["pages"].values())
    cancel_max = max(
        (c["seconds"] for c in main_result["cancels"].values() if not c.get("late")), default=0.0
    )
    met = (
        main_result["status"] == "completed"
        and (main_result["save"] or 0) <= TARGETS["save"]
        and (main_result["sarif"] or 0) <= TARGETS["sarif"]
        and (main_result["peak"] or 0) <= TARGETS["peak"]
        and cancel_max <= TARGETS["cancel"]
        and slowest <= TARGETS["page"]
    )
    print(
        f"\ntargets: save ≤ {TARGETS['save']:g} s, SARIF ≤ {TARGETS['sarif']:g} s, peak ≤ "
        f"{TARGETS['peak']:g} MB, cancel ≤ {TARGETS['cancel']:g} s (slowest: {cancel_max:.2f} s), "
        f"pages ≤ {TARGETS['page']:g} ms — {'met' if met else 'NOT MET'}"
    )
    print(
        f"findings: {main_result['pages']['findings']} findings, save {_fmt(main_result['save'])}"
        f" s, sarif {_fmt(main_result['sarif'])} s, peak {_fmt(main_result['peak'], 0)} MB, "
        f"page p99 {slowest:.0f} ms"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
