"""Big trees: a generated 50,000-file repository scanned through the platform, then re-scanned.

The repository is generated: ``--files`` files in nested folders (200 per folder), of which
two thirds are small Python modules (one in ten with a pattern bandit reports, such as
``subprocess`` with ``shell=True`` or an ``assert``), the rest text, JSON and YAML files, one
in fifty with a string the secrets analyzer reports, plus a ``requirements.txt``. It is committed
to a bare git repository and scanned with the settings' analyzers (bandit, secrets,
dependencies) through the platform exactly as ``bench/scan_speed.py`` does it (embedded mode,
SQLite by default, ``--postgres URL`` for a throwaway PostgreSQL database; the in-process
executor's worker thread runs ``scanpulse.scans.attempts.run_scan``): a first scan, then a
re-scan of the same unchanged commit, which reuses every per-file result.

For each scan it prints the wall time (scan creation to terminal status), the phases from the
scan's event log and the peak PSS of the worker process and all its analyzer children, summed
and sampled every 0.1 s. Targets: peak ≤ 1 GB, re-scan ≤ 0.1 × the first scan.

Usage (from the repository root, after ``make test`` has created ``.venv``)::

    .venv/bin/python bench/tree.py                  # 50,000 files
    .venv/bin/python bench/tree.py --files 5000     # a smaller tree

Ends with ``tree: <files> files, scan <s> s, rescan <s> s, peak <mb> MB``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scan_speed

PEAK_TARGET_MB = 1024.0
RESCAN_TARGET = 0.1
EXTRA_ENV: dict[str, str] = {}
_original_platform_env = scan_speed.platform_env


def _platform_env(data_dir: Path, tmp: Path) -> dict[str, str]:
    env = _original_platform_env(data_dir, tmp)
    env.update(EXTRA_ENV)
    return env


scan_speed.platform_env = _platform_env

PYTHON_CLEAN = '''"""Module {n}."""


def value_{n}(items):
    total = 0
    for item in items:
        total += item * {n}
    return total
'''
PYTHON_FINDINGS = [
    "import subprocess\n\n\ndef run_{n}(command):\n"
    "    return subprocess.call(command, shell=True)\n",
    "def check_{n}(value):\n    assert value > {n}\n    return value\n",
    "import pickle\n\n\ndef load_{n}(data):\n    return pickle.loads(data)\n",
]
TEXT = "Notes for part {n}.\nNothing to see here, only text that no analyzer reports.\n"
SECRET = 'aws_access_key_id = "AKIA{key}"\n'


def make_source(base: Path, files: int) -> Path:
    source = base / "source"
    for n in range(files):
        folder = source / f"pkg{n // 2000:03d}" / f"mod{(n // 200) % 10}"
        if n % 200 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        kind = n % 3
        if kind < 2:
            if n % 10 == 0:
                text = PYTHON_FINDINGS[(n // 10) % len(PYTHON_FINDINGS)].format(n=n)
            else:
                text = PYTHON_CLEAN.format(n=n)
            (folder / f"m{n:06d}.py").write_text(text)
        elif n % 50 == 2:
            key = f"{n:016d}".replace("0", "Q")[:16]
            (folder / f"settings{n:06d}.txt").write_text(TEXT.format(n=n) + SECRET.format(key=key))
        else:
            suffix = (".txt", ".json", ".yaml")[(n // 3) % 3]
            body = {
                ".txt": TEXT.format(n=n),
                ".json": f'{{"part": {n}, "name": "p{n}"}}\n',
                ".yaml": f"part: {n}\nname: p{n}\n",
            }[suffix]
            (folder / f"f{n:06d}{suffix}").write_text(body)
    (source / "requirements.txt").write_text("django==3.2.0\nrequests==2.19.0\n")
    return source


def scan(label: str, base: Path, env: dict[str, str], project_id: str) -> scan_speed.Measure:
    measure = scan_speed.platform_scan(base, env, project_id)
    report = measure.extra
    analyzers = report["summary"].get("analyzers", {})
    counts = ", ".join(
        f"{tool} {info['findings']} ({info['files']} files, {info['seconds']:.1f} s"
        + (", FAILED" if info["outcome"] != "succeeded" else "")
        + ")"
        for tool, info in analyzers.items()
    )
    phases = ", ".join(f"{k} {v:.2f}" for k, v in report["phases"].items())
    print(
        f"  {label}: {report['status']} in {measure.wall:.2f} s, CPU {measure.cpu:.1f} s; "
        f"peak PSS worker + children {scan_speed._mb(measure.tree_pss_mb)} MB (largest process "
        f"RSS {max(report['self_maxrss_mb'], report['children_maxrss_mb']):.0f} MB); other load "
        f"{scan_speed._cores(measure)}\n    findings: {counts}\n    phases (s): {phases}\n"
        f"    cached per-file results: {report['cache_entries'][0]} before, "
        f"{report['cache_entries'][1]} after",
        flush=True,
    )
    if report["status"] != "completed":
        print(f"    message: {report['message']}")
    return measure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: embedded SQLite)")
    parser.add_argument("--baseline", help="git ref of a baseline to scan with too (e.g. main)")
    args = parser.parse_args()
    print("tree: a generated repository through the platform, scanned and re-scanned")
    print(f"command: {shlex.join(sys.orig_argv)}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {scan_speed.machine()}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="tree-") as temp:
        base = Path(temp)
        source = make_source(base / "gen", args.files)
        _tree, repo, files = scan_speed.make_repository(source, base)
        print(f"repository: {files} files in one commit")
        codes = [("branch", scan_speed.REPO_ROOT)]
        if args.baseline:
            target = base / "code-baseline"
            target.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.baseline, "scanpulse"],
                cwd=scan_speed.REPO_ROOT,
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
            codes.append((f"baseline {args.baseline}", target))
        for name, code in codes:
            print(f"\n{name}", flush=True)
            EXTRA_ENV.clear()
            EXTRA_ENV["PYTHONPATH"] = str(code)
            db_name = f"bench_tree_{uuid.uuid4().hex[:8]}"
            if args.postgres:
                subprocess.run(
                    [
                        "psql",
                        f"{args.postgres}/postgres",
                        "-q",
                        "-c",
                        f'CREATE DATABASE "{db_name}"',
                    ],
                    check=True,
                    capture_output=True,
                )
                EXTRA_ENV["DATABASE_URL"] = f"{args.postgres}/{db_name}"
            try:
                env, project_id = scan_speed.platform_setup(base, repo, db_name)
                first = scan("first scan", base, env, project_id)
                again = scan("re-scan, unchanged", base, env, project_id)
            finally:
                if args.postgres:
                    subprocess.run(
                        [
                            "psql",
                            f"{args.postgres}/postgres",
                            "-q",
                            "-c",
                            f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)',
                        ],
                        capture_output=True,
                    )
            results[name] = (first, again)
    print("\n| code | scan s | re-scan s | ratio | peak PSS MB (scan / re-scan) | other load |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for name, (first, again) in results.items():
        print(
            f"| {name} | {first.wall:.2f} | {again.wall:.2f} | {again.wall / first.wall:.3f} | "
            f"{scan_speed._mb(first.tree_pss_mb)} / {scan_speed._mb(again.tree_pss_mb)} | "
            f"{scan_speed._cores(first)} / {scan_speed._cores(again)} |"
        )
    first, again = results["branch"]
    peak = max(first.tree_pss_mb or 0, again.tree_pss_mb or 0)
    ratio = again.wall / first.wall
    completed = first.extra["status"] == again.extra["status"] == "completed"
    met = completed and peak <= PEAK_TARGET_MB and ratio <= RESCAN_TARGET
    print(
        f"\ntargets: peak ≤ {PEAK_TARGET_MB:.0f} MB, re-scan ≤ {RESCAN_TARGET} × scan (here "
        f"{ratio:.3f}) — {'met' if met else 'NOT MET'}"
    )
    print(
        f"tree: {files} files, scan {first.wall:.1f} s, rescan {again.wall:.1f} s, peak {peak:.0f} MB"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
