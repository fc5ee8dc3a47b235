"""Running a scan: claiming it, running the pipeline as one attempt, and recording how it ended.

Every executor ends here (``run_scan``). Whatever happens, the scan ends in exactly one
terminal state with an event saying why, and users never see internal details: unexpected
errors are logged with a reference they can quote to an operator.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings

from scanpulse.advisories.store import ensure_snapshot
from scanpulse.analyzers.redaction import KEY_OPTION
from scanpulse.analyzers.runs import Limits, TooManyFindings
from scanpulse.core.crypto import SealError
from scanpulse.core.errors import DATABASE_UNAVAILABLE
from scanpulse.core.keys import secret_id_key
from scanpulse.core.retry import with_database_retry
from scanpulse.credentials.fetching import git_auth_for
from scanpulse.pipeline.repo_config import RepoConfigError
from scanpulse.pipeline.rule_pack import RULE_PACK_ANALYZER, rule_files_in
from scanpulse.pipeline.run import PipelineSettings, ScanCancelled, run_pipeline
from scanpulse.pipeline.source import FetchError, FetchLimits, GitAuth
from scanpulse.projects.validation import local_policy, network_policy
from scanpulse.tenancy.models import Organization

from .cache import DatabaseResultCache
from .claims import scan_claim_next, scan_start
from .liveness import ScanWatch
from .metrics import observe_duration
from .models import Scan, ScanStatus, ScanTrigger, ScanUpload
from .reporter import ScanReporter
from .results import save_results
from .sarif_upload import SARIF_ANALYZER
from .sarif_upload import UPLOADED_NAME as SARIF_NAME
from .sbom import UPLOADED_NAME
from .services import scan_finish

logger = logging.getLogger(__name__)

# The analyzers that report secrets and get the key to identify them with (in their options,
# which reach the analyzer process on its stdin).
SECRET_ID_ANALYZERS = ("bandit", "secrets")
# The one analyzer that reads an uploaded SBOM.
SBOM_ANALYZER = ":DependenciesAnalyzer"


def pipeline_settings(
    *, organization: Organization, project_config: str = "", auth: GitAuth | None = None
) -> PipelineSettings:
    """The settings of a scan of one of ``organization``'s projects: where its local
    repositories may lie, and which hosts may be contacted, are checked again at fetch time.
    ``project_config`` is the project's default configuration."""
    work_dir = Path(settings.SCANPULSE_WORK_DIR)
    snapshot = ensure_snapshot(work_dir / "advisories")
    workers = settings.SCANPULSE_ANALYZER_WORKERS or os.cpu_count() or 1
    return PipelineSettings(
        work_dir=work_dir,
        fetch=FetchLimits(
            timeout_seconds=settings.SCANPULSE_CLONE_TIMEOUT,
            max_bytes=settings.SCANPULSE_CLONE_MAX_BYTES,
            max_files=settings.SCANPULSE_CLONE_MAX_FILES,
            allow_local=settings.SCANPULSE_ALLOW_LOCAL_REPOS,
            protocols=tuple(settings.SCANPULSE_REPO_SCHEMES),
            network=network_policy(),
            ca_bundle=settings.SCANPULSE_GIT_CA_BUNDLE,
            local=local_policy(organization=organization),
        ),
        analyzers=settings.SCANPULSE_ANALYZERS,
        limits=Limits(
            timeout_s=settings.SCANPULSE_ANALYZER_TIMEOUT,
            cpu_s=settings.SCANPULSE_ANALYZER_CPU_SECONDS,
            memory_mb=settings.SCANPULSE_ANALYZER_MEMORY_MB,
            max_workers=workers,
            max_findings=settings.SCANPULSE_MAX_FINDINGS,
        ),
        max_file_size=settings.SCANPULSE_MAX_FILE_BYTES,
        options=_analyzer_options(snapshot),
        plugin_paths=tuple(settings.SCANPULSE_ANALYZER_PATHS),
        project_config=project_config,
        auth=auth,
    )


def uploaded_source(scan_settings: PipelineSettings, sbom: bytes) -> PipelineSettings:
    """The settings of a scan of an uploaded CycloneDX SBOM: its file is the checkout, read
    by the dependencies analyzer alone (as its option ``sbom``), whatever its size."""
    options = {name: dict(values) for name, values in scan_settings.options.items()}
    options.setdefault("dependencies", {})["sbom"] = UPLOADED_NAME
    return dataclasses.replace(
        scan_settings,
        upload={UPLOADED_NAME: sbom},
        analyzers=[path for path in scan_settings.analyzers if path.endswith(SBOM_ANALYZER)]
        or [f"scanpulse.analyzers.dependencies.analyzer{SBOM_ANALYZER}"],
        options=options,
        max_file_size=max(scan_settings.max_file_size, len(sbom)),
        auth=None,
    )


def uploaded_report(
    scan_settings: PipelineSettings, report: bytes, *, root: str = ""
) -> PipelineSettings:
    """The settings of a scan of an uploaded SARIF report: its file is the checkout, read by
    the ``sarif-import`` analyzer alone (option ``report``: its name; ``root``: where the
    tool ran), whatever its size."""
    options = {name: dict(values) for name, values in scan_settings.options.items()}
    options["sarif-import"] = {"report": SARIF_NAME, "root": root}
    return dataclasses.replace(
        scan_settings,
        upload={SARIF_NAME: report},
        upload_kind="SARIF report",
        analyzers=[SARIF_ANALYZER],
        options=options,
        max_file_size=max(scan_settings.max_file_size, len(report)),
        auth=None,
    )


def _analyzer_options(snapshot: Path | None) -> dict[str, dict[str, Any]]:
    options = {name: dict(values) for name, values in settings.SCANPULSE_ANALYZER_OPTIONS.items()}
    if snapshot is not None:
        options.setdefault("dependencies", {})["advisory_snapshot"] = str(snapshot)
    if settings.SCANPULSE_CHECKOV:
        options.setdefault("checkov", {})["executable"] = settings.SCANPULSE_CHECKOV
    if settings.SCANPULSE_RULE_PACK_DIR:
        # The organization's own Semgrep rules on this server, read at every scan.
        own = rule_files_in(Path(settings.SCANPULSE_RULE_PACK_DIR))
        options.setdefault(RULE_PACK_ANALYZER, {})["rule_files"] = [str(path) for path in own]
    key = secret_id_key().hex()
    for name in SECRET_ID_ANALYZERS:
        options.setdefault(name, {})[KEY_OPTION] = key
    return options


def run_scan(*, scan_id: UUID | str | None = None) -> None:
    """Run the scan ``scan_id``; without it, the waiting scan that is fairest to run now
    (what a free worker slot does)."""
    limit = settings.SCANPULSE_SCAN_ATTEMPTS
    if scan_id is None:
        scan = with_database_retry(scan_claim_next, attempt_limit=limit)
    else:
        scan = with_database_retry(scan_start, scan_id=scan_id, attempt_limit=limit)
    if scan is None:
        return
    attempt = scan.attempt
    with ScanWatch(scan.id, attempt=attempt) as watch:
        try:
            run_attempt(scan=scan, attempt=attempt, reporter=ScanReporter(scan.id), watch=watch)
        except DATABASE_UNAVAILABLE as exc:
            # Nothing can be recorded, not even a failure. This attempt ends here; its
            # heartbeat lapses, and housekeeping starts the scan again once the database is
            # back (or fails it, with a message, after its last attempt).
            logger.warning(
                "scan %s attempt %d abandoned, the database stayed unavailable: %s",
                scan.id,
                attempt,
                exc,
            )


def run_attempt(*, scan: Scan, attempt: int, reporter: ScanReporter, watch: ScanWatch) -> None:
    """Run attempt ``attempt`` of ``scan`` (started already) to its end, and record that end."""
    project = scan.project
    try:
        # Unsealed here, right before the fetch; the secret reaches git only through private
        # files removed when the fetch ends (``scanpulse.pipeline.auth``).
        auth = git_auth_for(
            credential=project.credential,
            organization_id=project.organization_id,
            project_id=project.id,
            project_name=project.name,
        )
    except SealError as exc:
        _fail(scan, attempt, str(exc))
        return
    try:
        scan_settings = pipeline_settings(
            organization=project.organization, project_config=project.scan_config, auth=auth
        )
        upload = ScanUpload.objects.filter(scan_id=scan.id).first()
        if upload is not None and scan.trigger == ScanTrigger.SARIF:
            root = str((upload.options or {}).get("root") or "")
            scan_settings = uploaded_report(scan_settings, bytes(upload.content), root=root)
        elif upload is not None:
            scan_settings = uploaded_source(scan_settings, bytes(upload.content))
        output = run_pipeline(
            location=project.repo_url,
            # A webhook names the commit it reports: that one is scanned, not whatever the
            # ref points to by now.
            ref=scan.requested_commit or scan.ref,
            settings=scan_settings,
            reporter=reporter,
            is_cancelled=watch.is_cancelled,
            cache=DatabaseResultCache(),
        )
    except FetchError as exc:
        _fail(scan, attempt, str(exc))
        return
    except RepoConfigError as exc:
        _fail(scan, attempt, f"The configuration cannot be used: {exc}")
        return
    except ScanCancelled:
        _stopped(scan, attempt, watch)
        return
    except TooManyFindings as exc:
        _fail(
            scan,
            attempt,
            f"The scan was stopped: {exc}, the limit set by SCANPULSE_MAX_FINDINGS.",
        )
        return
    except DATABASE_UNAVAILABLE:
        raise
    except Exception:
        reference = uuid.uuid4().hex[:12]
        logger.exception("scan %s failed unexpectedly (reference %s)", scan.id, reference)
        _fail(
            scan,
            attempt,
            f"The scan failed because of an internal error (reference {reference}).",
        )
        return
    if not output.any_succeeded:
        problems = "; ".join(
            f"{outcome.tool}: {' '.join(outcome.result.errors)}" for outcome in output.outcomes
        )
        _fail(scan, attempt, f"No analyzer could run. {problems}".strip())
        return
    try:
        if watch.is_cancelled():
            raise ScanCancelled
        save_results(
            scan=scan,
            attempt=attempt,
            output=output,
            reporter=reporter,
            is_cancelled=watch.is_cancelled,
        )
    except ScanCancelled:
        _stopped(scan, attempt, watch)


def _stopped(scan: Scan, attempt: int, watch: ScanWatch) -> None:
    """The scan stopped before its end: record why (unless it is no longer ours)."""
    if watch.superseded:
        return  # finished, or running as a newer attempt: that one records the outcome
    if watch.timed_out:
        _fail(scan, attempt, f"The scan took longer than its {watch.time_limit:g} s limit.")
    else:
        _cancelled(scan, attempt)


def _fail(scan: Scan, attempt: int, message: str) -> None:
    finished = with_database_retry(
        scan_finish, scan_id=scan.id, status=ScanStatus.FAILED, message=message, attempt=attempt
    )
    if finished:
        with_database_retry(observe_duration, scan_id=scan.id)


def _cancelled(scan: Scan, attempt: int) -> None:
    with_database_retry(scan.refresh_from_db)
    who = scan.cancelled_by.email if scan.cancelled_by else "a user"
    with_database_retry(
        scan_finish,
        scan_id=scan.id,
        status=ScanStatus.CANCELLED,
        message=f"Scan cancelled by {who}.",
        attempt=attempt,
    )
