"""What the checkov analyzer costs: on a tree without infrastructure code (the installed Django
source: only the parent's file sniffing, no process), and per Checkov run (start-up on one
Dockerfile, and the test fixtures of every kind), in wall time, CPU time and peak memory.

    .venv/bin/python bench/checkov_cost.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

from scanpulse.analyzers.checkov import CheckovAnalyzer
from scanpulse.analyzers.checkov.analyzer import FRAMEWORKS, checkov_command, checkov_env

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "analyzers" / "iac"


def _files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def _checkov_run(command: str, root: Path, files: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS MiB) of one Checkov process as the analyzer starts it."""
    argv = [command, "--output", "json", "--quiet", "--compact", "--skip-download"]
    argv += ["--download-external-modules", "false", "--framework", *FRAMEWORKS]
    for name in files:
        argv += ["--file", f"./{name}"]
    script = (
        "import resource, subprocess, sys, json, time\n"
        "t = time.monotonic()\n"
        "p = subprocess.run(json.loads(sys.argv[1]), cwd=sys.argv[2], "
        "capture_output=True, env=json.loads(sys.argv[3]))\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps([time.monotonic() - t, u.ru_utime + u.ru_stime, u.ru_maxrss, "
        "p.returncode]))\n"
    )
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                json.dumps(argv),
                str(root),
                json.dumps(checkov_env(home)),
            ],
            capture_output=True,
            check=True,
        )
    wall, cpu, rss_kb, code = json.loads(out.stdout)
    assert code in (0, 1), f"checkov exited with {code}"
    return wall, cpu, rss_kb // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    command = checkov_command()
    if command is None:
        print("Checkov is not installed: run `make tools`", file=sys.stderr)
        return 2
    analyzer = CheckovAnalyzer()
    print(f"checkov {analyzer.tool_version()} at {command}")

    django_root = Path(django.__file__).parent
    tree = _files(django_root)
    sniff = []
    for _ in range(args.repeat):
        started = time.monotonic()
        selected = analyzer.narrow(django_root, [p for p in tree if analyzer.selects(p)])
        sniff.append(time.monotonic() - started)
    candidates = sum(1 for p in tree if analyzer.selects(p))
    print(
        f"django source: {len(tree)} files, {candidates} YAML/JSON/Terraform/Dockerfile by name, "
        f"{len(selected)} infrastructure files -> no Checkov process; "
        f"selection {statistics.median(sniff) * 1000:.0f} ms"
    )

    startup = [_checkov_run(command, FIXTURES / "dockerfile" / "vulnerable", ["Dockerfile"])]
    fixtures = [
        _checkov_run(command, FIXTURES, [p for p in _files(FIXTURES) if "/helm/" not in f"/{p}"])
    ]
    for _ in range(args.repeat - 1):
        startup.append(
            _checkov_run(command, FIXTURES / "dockerfile" / "vulnerable", ["Dockerfile"])
        )
        fixtures.append(
            _checkov_run(
                command, FIXTURES, [p for p in _files(FIXTURES) if "/helm/" not in f"/{p}"]
            )
        )
    for label, runs in (
        ("one Dockerfile (start-up)", startup),
        ("all fixtures (12 files)", fixtures),
    ):
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs)
        print(f"checkov on {label}: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss} MiB")
    s_wall = statistics.median(r[0] for r in startup)
    s_cpu = statistics.median(r[1] for r in startup)
    s_rss = max(r[2] for r in startup)
    print(
        f"checkov: no-IaC tree {statistics.median(sniff) * 1000:.0f} ms without a process; "
        f"per run start-up {s_wall:.1f} s wall / {s_cpu:.1f} s CPU / {s_rss} MiB"
    )
    _ = resource  # the child's figures are measured in the helper process above
    return 0


if __name__ == "__main__":
    sys.exit(main())
