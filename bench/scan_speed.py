"""Scan speed: a large real Python tree through the whole platform, against the bare tools.

The tree is the installed Django package source (``__pycache__`` dropped), copied to a temporary
git repository. In one run the script measures, sequentially and each in its own process:

1. ``bandit -r TREE -f json -o FILE`` and ``detect-secrets scan --all-files TREE`` — the bare
   tools of the venv, one after the other;
2. a full platform scan: embedded mode (SQLite in a temporary ``SCANPULSE_DATA_DIR``), migrated
   and populated with the ``scanpulse`` CLI and services, then ``scan_create`` in a fresh process
   whose in-process executor runs ``scanpulse.scans.attempts.run_scan`` (git clone, the isolated
   analyzer children, fingerprints, classification, SARIF, saving), timed from scan creation to
   the terminal status;
3. a re-scan of the unchanged tree (same project and ref), which reuses per-file results.

Wall time, CPU time (user + system, the process and every child it waited for) and peak memory
are reported for each. Peak memory is given twice: the largest single process
(``ru_maxrss`` of ``getrusage``/``wait4``, which for children is the maximum over all of them,
not their sum) and the sampled peak of the whole process tree's proportional set size (PSS,
summed over the measured process and its descendants every 0.1 s, Linux only).

Usage (from the repository root, after ``make test`` has created ``.venv``)::

    .venv/bin/python bench/scan_speed.py [--repeat N] [--source DIR]

Everything runs in one temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FULL_TARGET = 0.7
RESCAN_TARGET = 0.1
SAMPLE_SECONDS = 0.1
BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parent.parent
# The platform identifies secrets by a keyed hash of detect-secrets' hash; with the key known
# here, the bare tool's findings can be identified the same way.
SECRET_ID_KEY = "scan-speed-benchmark"
# ``--analyzers``: the analyzer list of the platform scans, when not the settings' default.
ANALYZERS_OVERRIDE: list[str] = []


# --- measuring processes --------------------------------------------------------------------


@dataclass
class Measure:
    wall: float
    cpu: float
    maxrss_mb: float  # largest single process
    tree_pss_mb: float | None = None  # sampled peak of the process tree, summed
    returncode: int = 0
    other_cores: float | None = None  # average cores busy with other work during the run
    extra: dict[str, Any] = field(default_factory=dict)


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(child) for child in f.read().split())
    return found


def _memory_kb(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and its descendants; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.available = os.path.exists(f"/proc/{pid}/task")
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            pending, total, seen = [self.pid], 0, set()
            while pending:
                pid = pending.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                total += _memory_kb(pid)
                pending.extend(_children(pid))
            self.peak_kb = max(self.peak_kb, total)

    def stop(self) -> float | None:
        self._done.set()
        self.join()
        return self.peak_kb / 1024 if self.available and self.peak_kb else None


def _busy_seconds() -> float | None:
    """CPU time the whole machine has spent busy (not idle or waiting for I/O), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(value) for value in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run_measured(args: list[str], *, cwd: Path, env: dict[str, str]) -> Measure:
    """Run ``args`` to completion; wall, CPU and peak RSS of exactly that process tree
    (``wait4`` reports the child and every descendant it waited for). Output is kept in
    ``extra["stdout"]`` and ``extra["stderr"]``."""
    with tempfile.TemporaryFile(dir=cwd) as out, tempfile.TemporaryFile(dir=cwd) as err:
        busy = _busy_seconds()
        start = time.monotonic()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        busy_after = _busy_seconds()
        pss = sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        # Everything else the machine did meanwhile (other users, this script's sampler).
        other = None if busy is None or busy_after is None else busy_after - busy - cpu
        return Measure(
            wall=wall,
            cpu=cpu,
            maxrss_mb=usage.ru_maxrss / 1024,
            tree_pss_mb=pss,
            returncode=proc.returncode,
            other_cores=None if other is None else max(0.0, other) / wall,
            extra={
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace"),
            },
        )


# --- the tree -------------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LANG": "C",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def make_repository(source: Path, base: Path) -> tuple[Path, Path, int]:
    """Copy ``source`` to ``base/tree`` without ``__pycache__`` and commit it to the bare
    repository ``base/repo.git`` (so the tree itself holds no ``.git`` the bare tools would
    read). Returns (tree, repository, file count)."""
    tree = base / "tree"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    repo = base / "repo.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(repo), cwd=base)
    work = ["--git-dir", str(repo), "--work-tree", str(tree)]
    git(*work, "add", "--all", cwd=base)
    git(
        *work,
        "-c",
        "user.name=scan-speed bench",
        "-c",
        "user.email=bench@scanpulse.invalid",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "--quiet",
        "-m",
        f"{source.name} source",
        cwd=base,
    )
    files = int(git(*work, "ls-files", "-z", cwd=base).count("\0"))
    return tree, repo, files


# --- bare tools -----------------------------------------------------------------------------


def _relative(name: str, cwd: Path, tree: Path) -> str:
    return os.path.relpath(os.path.normpath(os.path.join(cwd, name)), tree)


def run_bare(tree: Path, base: Path, env: dict[str, str]) -> dict[str, Any]:
    out = base / "bare"
    out.mkdir(exist_ok=True)
    bandit_json = out / "bandit.json"
    bandit_cmd = [str(BIN / "bandit"), "-r", str(tree), "-f", "json", "-o", str(bandit_json)]
    bandit = run_measured(bandit_cmd, cwd=base, env=env)
    if bandit.returncode not in (0, 1) or not bandit_json.exists():  # 1: issues found
        raise SystemExit(f"bandit failed ({bandit.returncode}): {bandit.extra['stderr'][-2000:]}")
    report = json.loads(bandit_json.read_text())
    bandit.extra = {
        "findings": Counter(
            (_relative(r["filename"], base, tree), r["line_number"], r["test_id"])
            for r in report["results"]
        ),
        "errors": len(report.get("errors", [])),
    }

    secrets_cmd = [str(BIN / "detect-secrets"), "scan", "--all-files", str(tree)]
    secrets = run_measured(secrets_cmd, cwd=base, env=env)
    if secrets.returncode != 0:
        raise SystemExit(f"detect-secrets failed: {secrets.extra['stderr'][-2000:]}")
    baseline = json.loads(secrets.extra["stdout"])
    from scanpulse.analyzers.redaction import secret_id
    from scanpulse.core.keys import derive_secret_id_key

    key = derive_secret_id_key(SECRET_ID_KEY)
    secrets.extra = {
        "findings": Counter(
            (
                _relative(name, base, tree),
                item["line_number"],
                item["type"],
                secret_id(key, item["hashed_secret"]),
            )
            for name, items in baseline["results"].items()
            for item in items
        )
    }
    return {
        "bandit": bandit,
        "detect-secrets": secrets,
        "commands": [shlex.join(bandit_cmd), shlex.join(secrets_cmd) + " > FILE"],
    }


# --- the platform ---------------------------------------------------------------------------


def platform_env(data_dir: Path, tmp: Path) -> dict[str, str]:
    """The environment of the platform processes: embedded mode, nothing inherited that
    would change the configuration (no SCANPULSE_*, DATABASE_URL or REDIS_URL)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SCANPULSE_", "DJANGO_", "PYTHON"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        SCANPULSE_DATA_DIR=str(data_dir),
        SCANPULSE_SECRET_ID_KEY=SECRET_ID_KEY,
        DJANGO_SETTINGS_MODULE="scanpulse.config.settings.embedded",
        TMPDIR=str(tmp),
    )
    if ANALYZERS_OVERRIDE:
        env["SCANPULSE_ANALYZERS"] = ANALYZERS_OVERRIDE[-1]
    return env


def platform_setup(base: Path, repo: Path, tag: str) -> tuple[dict[str, str], str]:
    """A fresh data directory, migrated, with an organization, an owner and the project."""
    data_dir = base / f"data-{tag}"
    tmp = base / "tmp"
    tmp.mkdir(exist_ok=True)
    env = platform_env(data_dir, tmp)
    env["SCANPULSE_LOCAL_REPO_ROOTS"] = str(repo.resolve().parent)  # a root shared by all
    scanpulse = str(BIN / "scanpulse")
    for args in (
        [scanpulse, "migrate", "--noinput", "--verbosity", "0"],
        [scanpulse, "org", "create", "bench"],
        [
            scanpulse,
            "user",
            "create",
            "bench@scanpulse.invalid",
            "--org",
            "bench",
            "--role",
            "owner",
        ],
    ):
        _setup_step(args, base, env)
    output = _setup_step([sys.executable, __file__, "--helper", "project", str(repo)], base, env)
    return env, output.strip()


def _setup_step(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{shlex.join(args)} failed: {result.stderr[-3000:]}")
    return result.stdout


def platform_scan(base: Path, env: dict[str, str], project_id: str) -> Measure:
    """One scan in a fresh process; its figures cover scan creation to terminal status."""
    args = [sys.executable, __file__, "--helper", "scan", project_id]
    measure = run_measured(args, cwd=base, env=env)
    report = json.loads(_last_line(measure))
    measure.extra = report | {"process": {"wall": measure.wall, "cpu": measure.cpu}}
    # The interval figures, without the helper's own start-up (Django setup).
    measure.wall = report["wall"]
    measure.cpu = report["cpu"]
    return measure


def _last_line(measure: Measure) -> str:
    if measure.returncode != 0:
        raise SystemExit(f"platform helper failed: {measure.extra['stderr'][-3000:]}")
    return measure.extra["stdout"].strip().splitlines()[-1]


def _helper_project(repo: str) -> None:
    import django

    django.setup()
    from scanpulse.projects.services import project_create
    from scanpulse.tenancy.models import Organization

    organization = Organization.objects.get(name="bench")
    user = organization.memberships.get().user  # the owner created with the CLI
    project = project_create(
        user=user, organization=organization, name="django", repo_url=repo, default_branch="main"
    )
    print(project.id)


def _helper_scan(project_id: str) -> None:
    import django

    django.setup()
    from django.conf import settings

    from scanpulse.projects.models import Project
    from scanpulse.scans.attempts import pipeline_settings
    from scanpulse.scans.executor import reset_executor
    from scanpulse.scans.models import (
        TERMINAL_STATUSES,
        AnalysisCacheEntry,
        Finding,
        Scan,
        ScanEvent,
    )
    from scanpulse.scans.services import scan_create

    project = Project.objects.select_related("created_by").get(pk=project_id)
    cached_before = AnalysisCacheEntry.objects.count()
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    # As the API does: the scan is queued on commit to the executor (embedded: the in-process
    # worker pool), whose thread calls scanpulse.scans.attempts.run_scan.
    scan = scan_create(user=project.created_by, project=project, ref="main")
    status = scan.status
    while status not in TERMINAL_STATUSES:
        time.sleep(0.02)
        status = Scan.objects.filter(pk=scan.pk).values_list("status", flat=True).get()
    wall = time.monotonic() - start
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    reset_executor(wait=True)  # let the worker thread return
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Children are reaped before the terminal status is saved, so children1 covers the scan.
    cpu = (
        self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime
        + children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime
    )  # fmt: skip
    scan.refresh_from_db()
    events = list(
        ScanEvent.objects.filter(scan=scan).order_by("seq").values("kind", "data", "created_at")
    )
    findings = Finding.objects.filter(scan=scan).exclude(status="fixed")
    limits = pipeline_settings(organization=project.organization).limits
    print(
        json.dumps(
            {
                "status": scan.status,
                "message": next(
                    (e["data"].get("message", "") for e in events if e["kind"] == scan.status), ""
                ),
                "wall": wall,
                "db_seconds": (scan.finished_at - scan.created_at).total_seconds(),
                "cpu": cpu,
                "self_maxrss_mb": self1.ru_maxrss / 1024,
                "children_maxrss_mb": children1.ru_maxrss / 1024,
                "children_cpu": children1.ru_utime + children1.ru_stime,
                "summary": scan.summary,
                "phases": _phases(events, scan.created_at),
                "cache_entries": [cached_before, AnalysisCacheEntry.objects.count()],
                "settings": {
                    "analyzers": list(scan.summary.get("analyzers", {})),
                    "max_workers": limits.max_workers,
                    "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                },
                "secrets": sorted(
                    [f.path, f.start_line, f.properties["secret_type"], f.properties["secret_id"]]
                    for f in findings.filter(tool="secrets")
                ),
                "bandit": sorted(
                    [f.path, f.start_line, f.rule_id] for f in findings.filter(tool="bandit")
                ),
            }
        )
    )


def _phases(events: list[dict[str, Any]], created: Any) -> dict[str, float]:
    """Seconds between the scan's milestones, from its event log."""
    marks: dict[str, Any] = {"created": created}
    for event in events:
        data, kind = event["data"], event["kind"]
        if kind == "status" and data.get("status") == "running":
            marks.setdefault("running", event["created_at"])
        elif kind == "log" and str(data.get("message", "")).endswith("files to analyze."):
            marks.setdefault("fetched", event["created_at"])
        elif kind == "step" and data.get("step") == "Generating SARIF report":
            marks.setdefault("analyzed", event["created_at"])
        elif kind == "step" and data.get("step") == "Saving results":
            marks.setdefault("sarif", event["created_at"])
        elif kind in ("completed", "failed", "cancelled"):
            marks.setdefault("finished", event["created_at"])
    order = ["created", "running", "fetched", "analyzed", "sarif", "finished"]
    names = ["queued", "fetch+discover", "analyze", "sarif", "save"]
    phases = {}
    for name, (a, b) in zip(names, itertools.pairwise(order), strict=True):
        if a in marks and b in marks:
            phases[name] = (marks[b] - marks[a]).total_seconds()
    return phases


# --- the report -----------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next(
            (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
        )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{os.cpu_count()} cores ({usable} usable){', ' + model if model else ''}, "
        f"{memory:.1f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def versions() -> str:
    from importlib.metadata import version

    names = ("Django", "bandit", "detect-secrets")
    tools = ", ".join(f"{name} {version(name)}" for name in names)
    return f"{tools}, {git('--version', cwd=REPO_ROOT).strip()}"


def _cores(m: Measure) -> str:
    return "unknown" if m.other_cores is None else f"{m.other_cores:.2f} cores"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def print_table(rows: list[tuple[str, list[Measure]]], repeat: int) -> None:
    label = "median of " + str(repeat) if repeat > 1 else "one run"
    print(
        f"\n| run ({label}) | wall s | CPU s | peak RSS MB, largest process "
        "| peak PSS MB, process tree | other load, cores |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, measures in rows:
        wall = statistics.median(m.wall for m in measures)
        cpu = statistics.median(m.cpu for m in measures)
        rss = statistics.median(m.maxrss_mb for m in measures)
        tree = [m.tree_pss_mb for m in measures if m.tree_pss_mb is not None]
        pss = statistics.median(tree) if tree else None
        others = [m.other_cores for m in measures if m.other_cores is not None]
        other = f"{statistics.median(others):.2f}" if others else "–"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {_mb(rss)} | {_mb(pss)} | {other} |")


def summarize_scan(name: str, m: Measure) -> None:
    report = m.extra
    analyzers = report["summary"].get("analyzers", {})
    counts = ", ".join(
        f"{tool} {info['findings']} ({info['files']} files, {info['seconds']:.1f} s"
        + (", FAILED" if info["outcome"] != "succeeded" else "")
        + ")"
        for tool, info in analyzers.items()
    )
    phases = ", ".join(f"{key} {value:.2f}" for key, value in report["phases"].items())
    before, after = report["cache_entries"]
    print(
        f"  {name}: {report['status']} in {m.wall:.2f} s (database timestamps: "
        f"{report['db_seconds']:.2f} s; the helper process incl. Django start-up: "
        f"{report['process']['wall']:.2f} s); other load {_cores(m)}\n"
        f"    findings per tool: {counts}\n"
        f"    new {report['summary'].get('new')}, unchanged {report['summary'].get('unchanged')}, "
        f"fixed {report['summary'].get('fixed')}; phases (s): {phases}\n"
        f"    cached per-file results: {before} before, {after} after; CPU of child processes "
        f"{report['children_cpu']:.2f} s; peak RSS: scan process {report['self_maxrss_mb']:.0f} MB, "
        f"largest child {report['children_maxrss_mb']:.0f} MB"
    )


def compare(name: str, platform_found: Counter[Any], bare_found: Counter[Any]) -> tuple[bool, str]:
    """Whether both found the same findings, each as often."""
    equal = platform_found == bare_found
    text = f"{name}: platform {platform_found.total()}, bare {bare_found.total()}"
    if not equal:
        text += (
            f" — only platform {sorted(platform_found - bare_found)[:5]},"
            f" only bare {sorted(bare_found - platform_found)[:5]}"
        )
    return equal, text


def one_round(index: int, repeat: int, base: Path, tree: Path, repo: Path) -> dict[str, Any]:
    print(f"\nround {index + 1}/{repeat}", flush=True)
    bare_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    bare_env["TMPDIR"] = str(base / "tmp")
    (base / "tmp").mkdir(exist_ok=True)
    bare = run_bare(tree, base, bare_env)
    for tool in ("bandit", "detect-secrets"):
        m = bare[tool]
        print(
            f"  bare {tool}: {m.wall:.2f} s wall, {m.cpu:.2f} s CPU, "
            f"{sum(m.extra['findings'].values())} findings; other load {_cores(m)}",
            flush=True,
        )

    env, project_id = platform_setup(base, repo, str(index))
    full = platform_scan(base, env, project_id)
    summarize_scan("platform full scan", full)
    rescan = platform_scan(base, env, project_id)
    summarize_scan("platform re-scan", rescan)
    shutil.rmtree(base / f"data-{index}")

    checks = []
    for scan_name, scan in (("full scan", full), ("re-scan", rescan)):
        if scan.extra["status"] != "completed":
            raise SystemExit(
                f"platform {scan_name} ended {scan.extra['status']}: {scan.extra['message']}"
            )
        checks.append(
            compare(
                f"secrets vs bare detect-secrets ({scan_name}), (file, line, type, keyed hash)",
                Counter(tuple(item) for item in scan.extra["secrets"]),
                bare["detect-secrets"].extra["findings"],
            )
        )
        checks.append(
            compare(
                f"bandit vs bare bandit ({scan_name}), (file, line, test id)",
                Counter(tuple(item) for item in scan.extra["bandit"]),
                bare["bandit"].extra["findings"],
            )
        )
    for equal, text in checks:
        print(f"  {'equal' if equal else 'DIFFERENT'} — {text}")
    return {"bare": bare, "full": full, "rescan": rescan, "checks": checks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds to run; medians when > 1")
    parser.add_argument("--source", type=Path, help="tree to scan (default: the installed django)")
    parser.add_argument(
        "--analyzers",
        help="comma-separated analyzer paths for the platform scans (default: the settings' "
        "list, which includes the rule pack); e.g. the list without the rule pack, to compare",
    )
    parser.add_argument("--helper", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.analyzers:
        ANALYZERS_OVERRIDE.append(args.analyzers)
    if args.helper:
        {"project": _helper_project, "scan": _helper_scan}[args.helper[0]](args.helper[1])
        return 0
    if args.source is None:
        import django

        args.source = Path(django.__file__).parent
    source = args.source.resolve()

    print("scan speed: the platform against the bare tools")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {machine()}")
    print(f"tools: {versions()}")
    with tempfile.TemporaryDirectory(prefix="scan-speed-") as temp:
        base = Path(temp)
        tree, repo, files = make_repository(source, base)
        python_files = sum(1 for _ in tree.rglob("*.py"))
        print(f"tree: {source} — {files} files ({python_files} .py) in one commit")
        rounds = [one_round(i, args.repeat, base, tree, repo) for i in range(args.repeat)]
        leftovers = list((base / "tmp").iterdir())
    settings = rounds[0]["full"].extra["settings"]
    print(
        f"\nplatform: embedded mode ({settings['database']}), analyzers "
        f"{', '.join(settings['analyzers'])} in parallel, max_workers={settings['max_workers']} each"
    )
    print("bare tools, sequentially:\n  " + "\n  ".join(rounds[0]["bare"]["commands"]))

    def bare_total(r: dict[str, Any]) -> Measure:
        b, s = r["bare"]["bandit"], r["bare"]["detect-secrets"]
        pss = max(b.tree_pss_mb or 0, s.tree_pss_mb or 0) or None
        other = None
        if b.other_cores is not None and s.other_cores is not None:
            other = (b.other_cores * b.wall + s.other_cores * s.wall) / (b.wall + s.wall)
        return Measure(
            b.wall + s.wall, b.cpu + s.cpu, max(b.maxrss_mb, s.maxrss_mb), pss, other_cores=other
        )

    def scan_peak(m: Measure) -> Measure:
        rss = max(m.extra["self_maxrss_mb"], m.extra["children_maxrss_mb"])
        return Measure(m.wall, m.cpu, rss, m.tree_pss_mb, other_cores=m.other_cores)

    print_table(
        [
            ("bare bandit", [r["bare"]["bandit"] for r in rounds]),
            ("bare detect-secrets", [r["bare"]["detect-secrets"] for r in rounds]),
            ("bare total (sequential)", [bare_total(r) for r in rounds]),
            ("platform full scan", [scan_peak(r["full"]) for r in rounds]),
            ("platform re-scan", [scan_peak(r["rescan"]) for r in rounds]),
        ],
        args.repeat,
    )
    full_ratios = [r["full"].wall / bare_total(r).wall for r in rounds]
    rescan_ratios = [r["rescan"].wall / bare_total(r).wall for r in rounds]
    print()
    for name, ratios, target in (
        ("full scan / bare total", full_ratios, FULL_TARGET),
        ("re-scan / bare total", rescan_ratios, RESCAN_TARGET),
    ):
        ratio = statistics.median(ratios)
        each = f" (rounds: {', '.join(f'{x:.3f}' for x in ratios)})" if len(ratios) > 1 else ""
        verdict = "met" if ratio <= target else "NOT MET"
        print(f"wall ratio {name}: {ratio:.3f}{each}; target ≤ {target} — {verdict}")
    for position in range(len(rounds[0]["checks"])):
        results = [r["checks"][position] for r in rounds]
        held = all(equal for equal, _ in results)
        print(f"{'held' if held else 'FAILED'} in every round: {results[-1][1]}")
    if leftovers:
        print(f"warning: {len(leftovers)} temporary files were left behind by the runs")
    met = (
        statistics.median(full_ratios) <= FULL_TARGET
        and statistics.median(rescan_ratios) <= RESCAN_TARGET
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
