"""``scanpulse scan --server`` and ``scanpulse watch``: a scan on a server, followed live
(see ``follower``), then its result, findings and SARIF report fetched."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .api import Api, ApiProblem
from .display import Display
from .follower import DeadlinePassed, Follower
from .results import (
    EXIT_INTERRUPTED,
    EXIT_SCAN_FAILED,
    CliError,
    SbomOutput,
    ScanResult,
    write_report,
)
from .target import REMOTE_DEFAULT_REF, Target

CANCEL_WAIT_SECONDS = 60.0


# -- projects and scans ---------------------------------------------------------------------


def project_for(api: Api, target: Target) -> dict[str, Any]:
    """The caller's project for this location, created when there is none."""
    wanted = {target.location}
    if target.is_local:
        wanted.add(Path(target.location).as_uri())
    for project in api.paginate("/api/projects/"):
        if project.get("repo_url") in wanted:
            return project
    payload = {
        "name": target.name[:100],
        "repo_url": target.location,
        "default_branch": target.ref or REMOTE_DEFAULT_REF,
    }
    for attempt in range(2):
        try:
            created: dict[str, Any] = api.send("POST", "/api/projects/", json=payload).json()
            return created
        except ApiProblem as problem:
            if problem.status != 400:
                raise
            if "name" in problem.fields and attempt == 0:
                # Another repository already uses the name: make this one distinct.
                payload["name"] = f"{target.name[:91]}-{uuid.uuid4().hex[:8]}"
                continue
            raise _project_refused(problem, target) from problem
    raise AssertionError("unreachable")


def _project_refused(problem: ApiProblem, target: Target) -> CliError:
    if "repo_url" in problem.fields:
        reason = " ".join(problem.fields["repo_url"])
        hint = ""
        if target.is_local:
            hint = (
                " The server clones local paths on its own machine, and only when it allows "
                "local repositories (SCANPULSE_ALLOW_LOCAL_REPOS) under a directory of your "
                "organization's (SCANPULSE_LOCAL_REPO_ROOTS); give a URL it can clone, "
                "or scan locally without --server."
            )
        return CliError(f"The server refused the repository {target.location}: {reason}{hint}")
    if "organization" in problem.fields:
        return CliError(
            "You belong to several organizations on this server: create the project for "
            f"{target.location} in the right one first (POST /api/projects/ with "
            '"organization"); the client then finds it by its repository.'
        )
    return problem


def start_scan(api: Api, target: Target) -> dict[str, Any]:
    project = project_for(api, target)
    payload: dict[str, Any] = {"project": project["id"]}
    if target.ref is not None:
        payload["ref"] = target.ref
    if target.base_ref is not None:
        payload["base_ref"] = target.base_ref
    scan: dict[str, Any] = api.send("POST", "/api/scans/", json=payload).json()
    return scan


def find_project(api: Api, wanted: str) -> dict[str, Any]:
    """The caller's project named ``wanted``, or with that id."""
    projects = list(api.paginate("/api/projects/"))
    for project in projects:
        if wanted in (str(project.get("id")), project.get("name")):
            return project
    names = ", ".join(sorted(str(project.get("name")) for project in projects)[:10])
    raise CliError(
        f"There is no project {wanted!r} on {api.server} that you can see"
        + (f" (yours: {names})." if names else ".")
    )


@dataclass(frozen=True, slots=True)
class Upload:
    """A SARIF report to upload: the file, the project (name or id), where the tool ran."""

    path: Path
    project: str
    root: str
    ref: str | None = None


def upload_report(api: Api, upload: Upload) -> dict[str, Any]:
    """Start a scan of the report on the server (``POST /api/projects/{id}/sarif``)."""
    try:
        data = upload.path.read_bytes()
    except OSError as exc:
        raise CliError(f"Cannot read {upload.path}: {exc.strerror or exc}") from None
    project = find_project(api, upload.project)
    params = {"root": upload.root}
    if upload.ref is not None:
        params["ref"] = upload.ref
    scan: dict[str, Any] = api.send(
        "POST",
        f"/api/projects/{project['id']}/sarif",
        params=params,
        content=data,
        headers={"Content-Type": "application/sarif+json"},
    ).json()
    return scan


def run_upload(api: Api, upload: Upload, options: FollowOptions) -> ScanResult:
    scan = upload_report(api, upload)
    return _follow_to_result(api, str(scan["id"]), options, started=True)


def get_scan(api: Api, scan_id: str) -> dict[str, Any]:
    try:
        scan: dict[str, Any] = api.get_json(f"/api/scans/{scan_id}/")
    except ApiProblem as problem:
        if problem.status == 404:
            raise CliError(
                f"There is no scan {scan_id} on {api.server} (or it is not yours)."
            ) from None
        raise
    return scan


def fetch_result(api: Api, scan_id: str) -> ScanResult:
    scan = get_scan(api, scan_id)
    findings = list(api.paginate(f"/api/scans/{scan_id}/findings/"))
    return ScanResult(scan=scan, findings=findings)


def download_sarif(api: Api, scan_id: str, path: Path) -> None:
    try:
        with api.client.stream("GET", f"/api/scans/{scan_id}/sarif") as response:
            api.check(response)
            write_report(path, response.iter_bytes())
    except httpx.TransportError as exc:
        raise api.unreachable(exc) from exc


def download_sbom(api: Api, scan_id: str, output: SbomOutput) -> None:
    try:
        response = api.client.get(f"/api/scans/{scan_id}/sbom", params={"format": output.kind})
    except httpx.TransportError as exc:
        raise api.unreachable(exc) from exc
    api.check(response)
    write_report(output.path, [response.content])


# -- the commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FollowOptions:
    display: Display
    cancel_on_interrupt: bool = False
    sarif: Path | None = None
    sbom: SbomOutput | None = None


def run_remote_scan(api: Api, target: Target, options: FollowOptions) -> ScanResult:
    scan = start_scan(api, target)
    return _follow_to_result(api, str(scan["id"]), options, started=True)


def run_watch(api: Api, scan_id: str, options: FollowOptions) -> ScanResult:
    try:
        scan_id = str(uuid.UUID(scan_id))
    except ValueError:
        raise CliError(f"{scan_id!r} is not a scan id (a UUID).") from None
    get_scan(api, scan_id)  # a clear error for an unknown scan before anything is shown
    return _follow_to_result(api, scan_id, options, started=False)


def _follow_to_result(
    api: Api, scan_id: str, options: FollowOptions, *, started: bool
) -> ScanResult:
    display = options.display
    follower = Follower(api, scan_id, display)
    try:
        if started:
            display.note(
                f"Scan {scan_id} started on {api.server} (re-attach: scanpulse watch {scan_id})"
            )
        follower.run()
    except KeyboardInterrupt:
        _interrupted(api, follower, options)
    finally:
        display.close()
    result = fetch_result(api, scan_id)
    if options.sarif is not None and result.status == "completed":
        download_sarif(api, scan_id, options.sarif)
    if options.sbom is not None and result.status == "completed":
        download_sbom(api, scan_id, options.sbom)
    return result


def _interrupted(api: Api, follower: Follower, options: FollowOptions) -> None:
    """Ctrl-C: cancel the scan on the server (asked, or with --cancel-on-interrupt) and wait
    for it to end; otherwise leave it running and say how to come back to it."""
    scan_id = follower.scan_id
    cancel = options.cancel_on_interrupt
    if not cancel and sys.stdin.isatty():
        options.display.pause()
        cancel = _confirm(f"Cancel scan {scan_id} on the server? [y/N] ")
        options.display.resume()
    if not cancel:
        raise CliError(
            f"Scan {scan_id} keeps running on the server. Re-attach with: "
            f"scanpulse watch {scan_id}",
            EXIT_INTERRUPTED,
        )
    options.display.note(f"Cancelling scan {scan_id}…")
    try:
        api.send("POST", f"/api/scans/{scan_id}/cancel")
        follower.run(deadline=time.monotonic() + CANCEL_WAIT_SECONDS)
    except KeyboardInterrupt:
        raise CliError(
            f"Cancellation of scan {scan_id} was requested; not waiting for it.", EXIT_INTERRUPTED
        ) from None
    except DeadlinePassed:
        raise CliError(
            f"Cancellation of scan {scan_id} was requested, but it had not stopped after "
            f"{CANCEL_WAIT_SECONDS:.0f} s.",
            EXIT_SCAN_FAILED,
        ) from None


def _confirm(question: str) -> bool:
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return False
    return answer.strip().lower() in ("y", "yes")
