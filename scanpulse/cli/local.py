"""``scanpulse scan`` without a server: the real pipeline in this process, on the embedded
store in the data directory.

The scan is created with the same service the API uses and run with the same task a worker
runs, so results, history (new / unchanged / fixed) and the SARIF report are exactly what a
server would produce. ``run_scan`` runs on a worker thread only so that the main thread can
follow the event log (and receive Ctrl-C) meanwhile.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from django.db import DatabaseError

from scanpulse.scans.executor import ScanExecutor

from .display import Display
from .results import CliError, SbomOutput, ScanResult, ScanUpdate, write_report
from .target import REMOTE_DEFAULT_REF, Target

if TYPE_CHECKING:
    from scanpulse.projects.models import Project
    from scanpulse.tenancy.types import User

logger = logging.getLogger(__name__)

LOCAL_ORGANIZATION = "local"
LOCAL_USER = "cli@localhost"
POLL_SECONDS = 0.1


def default_data_dir() -> Path:
    """Per user, like other tools' caches: a CLI is run from anywhere, and ``./var`` would
    scatter stores (and their history) over every directory it was run in."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return Path(base).expanduser() / "scanpulse"


class ForegroundExecutor(ScanExecutor):
    """The command runs the scan itself (see :func:`run_local`); creating one queues nothing."""

    def submit(self, scan_id: UUID | str) -> None:
        return None

    def cancel(self, scan_id: UUID | str) -> None:
        from scanpulse.scans.liveness import cancel_local

        cancel_local(scan_id)


def configure_django() -> None:
    """Embedded settings on the local store, whatever a server in this shell is configured
    with: a local scan never writes to a shared database or publishes on a shared bus."""
    if not os.environ.get("SCANPULSE_DATA_DIR"):
        os.environ["SCANPULSE_DATA_DIR"] = str(default_data_dir())
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "scanpulse.config.settings.embedded"
    os.environ["SCANPULSE_SCAN_EXECUTOR"] = f"{__name__}.ForegroundExecutor"
    os.environ["SCANPULSE_EVENT_BUS"] = "scanpulse.events.memory.MemoryEventBus"
    # The user's own paths, and their own network, are what a local scan is for: it runs as
    # that user, with nobody else's requests to guard against.
    os.environ["SCANPULSE_ALLOW_LOCAL_REPOS"] = "true"
    os.environ["SCANPULSE_LOCAL_REPO_ROOTS"] = "/"
    os.environ["SCANPULSE_PROTECT_SERVER_DIRS"] = "false"
    os.environ.setdefault("SCANPULSE_GIT_ALLOWED_NETWORKS", "0.0.0.0/0,::/0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        import django

        django.setup()
        from scanpulse.core.database import migrate

        migrate()  # one process at a time: two scans may start on a fresh store at once
    except (OSError, DatabaseError) as exc:
        raise CliError(
            f"Cannot use the local store in {os.environ['SCANPULSE_DATA_DIR']}: {exc}"
        ) from exc


def run_local(
    target: Target, display: Display, *, sarif: Path | None, sbom: SbomOutput | None = None
) -> ScanResult:
    configure_django()
    from scanpulse.scans.services import scan_cancel, scan_create

    if not target.is_local:
        _check_location(target.location)
    user = _local_user()
    project = _project_for(target, user)
    scan = scan_create(user=user, project=project, ref=target.ref or REMOTE_DEFAULT_REF)
    worker = threading.Thread(
        target=_run_scan, args=(scan.id,), name="scanpulse-cli-scan", daemon=True
    )
    worker.start()
    follower = _LogFollower(scan.id, worker, display)
    try:
        follower.run()
    except KeyboardInterrupt:
        # The scan lives in this process: leaving it running is not an option.
        display.note(f"Interrupted: cancelling scan {scan.id} (Ctrl-C again to quit at once)…")
        scan_cancel(user=user, scan=scan)
        follower.run()
    worker.join()
    result = _result(scan.id)
    if sarif is not None and result.status == "completed":
        _write_sarif(scan.id, sarif)
    if sbom is not None and result.status == "completed":
        _write_sbom(scan.id, sbom)
    return result


def _check_location(location: str) -> None:
    from scanpulse.projects.validation import RepoLocationError, classify_repo_location

    try:
        classify_repo_location(location)
    except RepoLocationError as exc:
        raise CliError(f"{location}: {exc}") from exc


def _local_user() -> User:
    from django.contrib.auth import get_user_model

    from scanpulse.tenancy.models import Organization, Role
    from scanpulse.tenancy.services import organization_create, user_create

    organization = Organization.objects.filter(name=LOCAL_ORGANIZATION).first()
    if organization is None:
        organization = organization_create(name=LOCAL_ORGANIZATION)
    user = get_user_model().objects.filter(username=LOCAL_USER).first()
    if user is None:
        user = user_create(email=LOCAL_USER, organization=organization, role=Role.OWNER)
    return user


def _project_for(target: Target, user: User) -> Project:
    from scanpulse.projects.models import Project
    from scanpulse.projects.services import project_create
    from scanpulse.tenancy.models import Organization

    organization = Organization.objects.get(name=LOCAL_ORGANIZATION)
    project = (
        Project.objects.filter(organization=organization, repo_url=target.location)
        .order_by("created_at")
        .first()
    )
    if project is not None:
        return project
    name = target.name[:100]
    if Project.objects.filter(organization=organization, name=name).exists():
        digest = hashlib.sha256(target.location.encode()).hexdigest()[:8]
        name = f"{name[:91]}-{digest}"
    return project_create(
        user=user,
        organization=organization,
        name=name,
        repo_url=target.location,
        default_branch=target.ref or REMOTE_DEFAULT_REF,
        must_exist=False,  # a missing path is a failed scan here, as a bad URL is
    )


def _run_scan(scan_id: UUID) -> None:
    from django.db import connections

    from scanpulse.scans.attempts import run_scan

    try:
        run_scan(scan_id=scan_id)
    except Exception:  # run_scan turns failures into a failed scan; this is a last resort
        logger.exception("the local scan %s crashed", scan_id)
    finally:
        connections.close_all()


class _LogFollower:
    """Shows the scan's events as the worker appends them, from where it last stopped."""

    def __init__(self, scan_id: UUID, worker: threading.Thread, display: Display) -> None:
        self.scan_id = scan_id
        self.worker = worker
        self.display = display
        self.last = 0

    def run(self) -> None:
        from scanpulse.scans.log import read_events

        while True:
            events = read_events(scan_id=self.scan_id, after=self.last)
            for row in events:
                event = ScanUpdate(row.seq, row.kind, row.data, row.time)
                self.last = event.seq
                self.display.event(event)
                if event.is_terminal:
                    return
            if not events:
                if not self.worker.is_alive() and not read_events(
                    scan_id=self.scan_id, after=self.last
                ):
                    return  # the task found the scan already ended: nothing more will come
                time.sleep(POLL_SECONDS)


def _result(scan_id: UUID) -> ScanResult:
    from scanpulse.scans.models import Scan
    from scanpulse.scans.payloads import finding_payload, scan_payload
    from scanpulse.scans.selectors import finding_list

    scan = Scan.objects.select_related("requested_by", "cancelled_by").get(pk=scan_id)
    # The API's own payloads, so --json is the same in both modes.
    return ScanResult(
        scan=scan_payload(scan),
        findings=[finding_payload(finding) for finding in finding_list(scan=scan)],
    )


def _write_sarif(scan_id: UUID, path: Path) -> None:
    from scanpulse.scans.models import ScanReport

    report = ScanReport.objects.filter(scan_id=scan_id).first()
    if report is None:
        raise CliError("The scan completed without a SARIF report.", 3)
    write_report(path, [gzip.decompress(bytes(report.sarif_gzip))])


def _write_sbom(scan_id: UUID, output: SbomOutput) -> None:
    from scanpulse.scans.models import Scan
    from scanpulse.scans.sbom import sbom_document

    scan = Scan.objects.select_related("project").get(pk=scan_id)
    write_report(output.path, [sbom_document(scan, output.kind).encode()])
