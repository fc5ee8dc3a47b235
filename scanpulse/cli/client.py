"""``scanpulse scan`` and ``scanpulse watch``: argument parsing and dispatch to local or
remote mode. The exit code is the interface CI builds gate on; see ``docs/cli.md``."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from scanpulse.pipeline.coverage import GATE_SEVERITIES
from scanpulse.projects.validation import validate_ref

from .api import Api
from .display import Display, make_display, print_summary
from .remote import FollowOptions, Upload, run_remote_scan, run_upload, run_watch
from .results import (
    EXIT_INTERRUPTED,
    CliError,
    Gate,
    SbomOutput,
    ScanResult,
)
from .target import Target, resolve_target

EXIT_CODES = """\
exit codes:
  0    the scan completed and passed its gate: with --server, the project's quality gate
       (unless --fail-on or --allow-incomplete is given); else no finding at or above
       --fail-on (or no --fail-on)
  1    the scan completed with findings at or above --fail-on, or failed a condition of
       the project's quality gate
  2    usage or configuration error (bad flag, missing token, location refused)
  3    the scan failed or was cancelled (also by Ctrl-C)
  4    the server is unreachable, or refused the token (401/403)
  5    with --fail-on: the scan completed but is incomplete (an analyzer failed, files were
       skipped or only partly analyzed, manifests were not checked); --allow-incomplete
       passes it. With the project's quality gate: incompleteness was its only failure
  130  interrupted with Ctrl-C, the scan left running on the server

environment:
  SCANPULSE_SERVER   server URL: remote mode (--server wins; --server '' scans locally)
  SCANPULSE_TOKEN    API token for the server (--token wins)
  SCANPULSE_DATA_DIR local mode's store (default: $XDG_DATA_HOME/scanpulse, that is
                     ~/.local/share/scanpulse)

See docs/cli.md for the output formats and a CI example.
"""

SCAN_DESCRIPTION = """\
Scan a git repository and report its findings.

Without a server (local mode) the scan runs in this process on a store in the data
directory, which keeps the history that --new-only compares with. With --server (or
SCANPULSE_SERVER) it runs on that server and is followed live.

A local path is scanned as git sees it: the commit of --ref (default: the current branch)
is cloned, so uncommitted changes are not scanned."""

WATCH_DESCRIPTION = """\
Follow a scan running on a server (or show a finished one), then report like `scan`.
Every event is shown exactly once and in order, across dropped connections."""


UPLOAD_DESCRIPTION = """\
Upload another tool's SARIF 2.1.0 report (CodeQL, Semgrep, Trivy, gitleaks, ESLint, …) to a
server as a scan of that tool in a project, follow it live, then report like `scan`: its
findings are fingerprinted, triaged and gated like the server's own. Absolute paths in the
report are made relative to --root (default: the current directory, where the tool is
usually run); a report naming files outside it is refused."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scanpulse",
        description="The scanpulse command-line client.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan = commands.add_parser(
        "scan",
        help="scan a local path or a repository URL",
        description=SCAN_DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("target", metavar="PATH|URL", help="a local git work tree or a git URL")
    scan.add_argument(
        "--ref", help="branch, tag or commit to scan (default: the current branch of PATH)"
    )
    scan.add_argument(
        "--base",
        metavar="BRANCH",
        help="with --server, compare with this branch's latest completed scan, as for a pull "
        "request into it: its new findings are those new in the pull request (and the "
        "project's gate counts those as new)",
    )
    _add_common(scan)
    watch = commands.add_parser(
        "watch",
        help="follow a scan on a server",
        description=WATCH_DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument("scan_id", metavar="SCAN_ID")
    _add_common(watch)
    upload = commands.add_parser(
        "upload",
        help="upload a SARIF report to a server",
        description=UPLOAD_DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("report", metavar="FILE", type=Path, help="a SARIF 2.1.0 JSON file")
    upload.add_argument(
        "--project", required=True, metavar="NAME|ID", help="the project (its name or id)"
    )
    upload.add_argument(
        "--ref", help="what the scan is filed under (default: sarif/<tool>, one per tool)"
    )
    upload.add_argument(
        "--root",
        metavar="DIR",
        help="the directory the tool ran in, for reports with absolute paths (default: the "
        "current directory)",
    )
    _add_common(upload)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    remote = parser.add_argument_group("server")
    remote.add_argument("--server", metavar="URL", help="scanpulse server (env SCANPULSE_SERVER)")
    remote.add_argument("--token", help="API token (env SCANPULSE_TOKEN)")
    remote.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="on Ctrl-C, cancel the scan on the server without asking",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--sarif", metavar="FILE", type=Path, help="write the SARIF 2.1.0 report")
    output.add_argument(
        "--sbom",
        metavar="FILE",
        type=Path,
        help="write the scan's dependency inventory as an SBOM: CycloneDX 1.6 JSON, or SPDX "
        "2.3 JSON when FILE ends in .spdx.json (or with --sbom-format spdx)",
    )
    output.add_argument(
        "--sbom-format",
        choices=("cyclonedx", "spdx"),
        help="the SBOM's format (default: from the file name, else cyclonedx)",
    )
    output.add_argument(
        "--json",
        action="store_true",
        help="print the scan, its findings and counts as JSON, and nothing else, on stdout",
    )
    output.add_argument(
        "--no-progress", action="store_true", help="show only the summary, no live progress"
    )
    gate = parser.add_argument_group("gate")
    gate.add_argument(
        "--fail-on",
        choices=GATE_SEVERITIES,
        help="exit 1 when a finding has this severity or a higher one (with --server, "
        "instead of the project's quality gate)",
    )
    gate.add_argument(
        "--new-only",
        action="store_true",
        help="count only findings that are new since the previous scan of the same ref",
    )
    gate.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="with --fail-on, pass a scan that did not look at everything (an analyzer "
        "failed, files skipped or partly analyzed, manifests not checked); it exits 5 otherwise",
    )


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)  # exits 2 on a usage error
    gate = Gate(
        fail_on=args.fail_on, new_only=args.new_only, allow_incomplete=args.allow_incomplete
    )
    try:
        result = _run(args)
    except CliError as exc:
        print(f"scanpulse: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("scanpulse: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print_summary(result, gate, json_output=args.json)
    if args.sarif is not None and result.status != "completed":
        print(f"scanpulse: no SARIF report: the scan {result.status}.", file=sys.stderr)
    if args.sbom is not None and result.status != "completed":
        print(f"scanpulse: no SBOM: the scan {result.status}.", file=sys.stderr)
    return result.exit_code(gate)


def _run(args: argparse.Namespace) -> ScanResult:
    server = args.server if args.server is not None else os.environ.get("SCANPULSE_SERVER", "")
    sarif: Path | None = args.sarif
    if sarif is not None and not sarif.parent.is_dir():
        raise CliError(f"--sarif {sarif}: the directory {sarif.parent} does not exist.")
    sbom = _sbom_output(args)

    if not server:
        if args.command == "watch":
            raise CliError("watch follows a scan on a server: give --server or SCANPULSE_SERVER.")
        if args.command == "upload":
            raise CliError("upload sends a report to a server: give --server or SCANPULSE_SERVER.")
        if getattr(args, "base", None) is not None:
            raise CliError(
                "--base compares with the branch's scans on a server: give --server or "
                "SCANPULSE_SERVER."
            )
        target = _target(args)
        from .local import run_local

        display = _display(args)
        try:
            return run_local(target, display, sarif=sarif, sbom=sbom)
        finally:
            display.close()

    api = _api(server, args.token)
    try:
        remote_target = _target(args) if args.command == "scan" else None
        upload = _upload(args) if args.command == "upload" else None
        display = _display(args)
        options = FollowOptions(
            display=display,
            cancel_on_interrupt=args.cancel_on_interrupt,
            sarif=sarif,
            sbom=sbom,
        )
        try:
            if upload is not None:
                result = run_upload(api, upload, options)
            elif remote_target is None:
                result = run_watch(api, args.scan_id, options)
            else:
                result = run_remote_scan(api, remote_target, options)
        finally:
            display.close()
        # The server's verdict of the project's quality gate decides, unless the command
        # line sets a gate of its own.
        result.project_gate = args.fail_on is None and not args.allow_incomplete
        return result
    finally:
        api.close()


def _upload(args: argparse.Namespace) -> Upload:
    path: Path = args.report
    if not path.is_file():
        raise CliError(f"{path}: no such file.")
    if args.ref is not None:
        try:
            validate_ref(args.ref)
        except ValueError as exc:
            raise CliError(f"--ref {args.ref!r}: {exc}") from exc
    root = Path(args.root) if args.root is not None else Path.cwd()
    return Upload(path=path, project=args.project, root=str(root.resolve()), ref=args.ref)


def _sbom_output(args: argparse.Namespace) -> SbomOutput | None:
    path: Path | None = getattr(args, "sbom", None)
    if path is None:
        if getattr(args, "sbom_format", None) is not None:
            raise CliError("--sbom-format needs --sbom FILE.")
        return None
    if not path.parent.is_dir():
        raise CliError(f"--sbom {path}: the directory {path.parent} does not exist.")
    kind = args.sbom_format or ("spdx" if path.name.endswith(".spdx.json") else "cyclonedx")
    return SbomOutput(path=path, kind=kind)


def _display(args: argparse.Namespace) -> Display:
    return make_display(json_output=args.json, no_progress=args.no_progress)


def _api(server: str, token_flag: str | None) -> Api:
    if not server.startswith(("http://", "https://")):
        raise CliError(f"--server {server!r}: give an http:// or https:// URL.")
    token = token_flag if token_flag is not None else os.environ.get("SCANPULSE_TOKEN", "")
    if not token:
        raise CliError("A server needs an API token: give --token or set SCANPULSE_TOKEN.")
    return Api(server, token)


def _target(args: argparse.Namespace) -> Target:
    target = resolve_target(args.target, args.ref)
    base = getattr(args, "base", None)
    if base is not None:
        try:
            validate_ref(base)
        except ValueError as exc:
            raise CliError(f"--base {base!r}: {exc}") from exc
        target = replace(target, base_ref=base)
    if target.uncommitted_changes:
        print(
            f"scanpulse: note: {target.location} has uncommitted changes; they are not "
            f"scanned (the scan clones {target.ref}).",
            file=sys.stderr,
        )
    return target
