"""An uploaded SARIF 2.1.0 report, any tool's, as a scan of its own: checked here (size, JSON,
the SARIF schema, one tool, paths inside the repository) and kept with its scan; the scan's
fetch writes it into an empty checkout, where the ``sarif-import`` analyzer reads it
(``scanpulse.analyzers.sarif_import``) and reports its findings under the report's tool. The
scan then runs, streams, fingerprints, triages and gates like any other.
"""

from __future__ import annotations

import json
import posixpath
import re

from django.conf import settings
from django.db import transaction

from scanpulse.analyzers.sarif_import.convert import SarifRefused, check
from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Invalid, PayloadTooLarge
from scanpulse.core.parsers import json_depth
from scanpulse.projects.models import Project
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import Scan, ScanTrigger, ScanUpload
from .services import _check_queue_quota, _checked_ref, _create_locked

# The name of an uploaded report in its scan's checkout.
UPLOADED_NAME = "report.sarif.json"
# The ref an uploaded report's scan is filed under unless the upload names one: one per tool
# (``sarif/codeql``), so that one tool's report never marks another's findings fixed.
UPLOAD_REF = "sarif"
# The analyzer that reads it.
SARIF_ANALYZER = "scanpulse.analyzers.sarif_import:SarifImportAnalyzer"
# Nesting a report may have (SARIF nests deeper than an API body: code flows, graphs).
MAX_DEPTH = 64


def _checked_root(root: str) -> str:
    if not root:
        return ""
    if "\x00" in root or len(root) > 1024:
        raise Invalid("The root is not a directory path.", fields={"root": ["Not a path."]})
    normalized = root.replace("\\", "/")
    if not (normalized.startswith("/") or (len(normalized) > 2 and normalized[1:3] == ":/")):
        raise Invalid(
            "The root must be an absolute directory (where the tool ran).",
            fields={"root": ["Not an absolute path."]},
        )
    return posixpath.normpath(normalized)


def check_report(data: bytes, *, root: str = "") -> tuple[str, int]:
    """Refuse what cannot be ingested: too large (``PayloadTooLarge``, a 413), not JSON, not
    SARIF 2.1.0, several tools, or paths outside the repository (``Invalid``, a 400, with the
    first problems listed under ``file``). Returns the report's tool and how many findings."""
    limit = settings.SCANPULSE_SARIF_MAX_BYTES
    if len(data) > limit:
        raise PayloadTooLarge(
            f"The SARIF report is larger than {limit} bytes, the most that may be uploaded "
            "(SCANPULSE_SARIF_MAX_BYTES).",
            code="too_large",
            fields={"file": ["Too large."]},
        )
    if not data.strip():
        raise Invalid("The SARIF report is empty.", fields={"file": ["Empty."]})
    if json_depth(data) > MAX_DEPTH:
        raise Invalid(
            f"The SARIF report is nested more than {MAX_DEPTH} levels deep.",
            fields={"file": ["Nested too deeply."]},
        )
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(
            "The SARIF report is not valid JSON.",
            code="not_json",
            fields={"file": [f"Not valid JSON: {exc}"[:200]]},
        ) from exc
    try:
        result = check(document, root=root)
    except SarifRefused as exc:
        raise Invalid(
            str(exc), code="invalid_sarif", fields={"file": exc.details or [str(exc)]}
        ) from exc
    return result.tool, len(result.findings)


def default_ref(tool: str) -> str:
    """``sarif/<tool>``: the tool's name in lower case, runs of other characters as ``-``."""
    slug = re.sub(r"[^a-z0-9._]+", "-", tool.lower()).strip("-.") or "tool"
    return f"{UPLOAD_REF}/{slug[:60]}"


def scan_create_from_sarif(
    *, user: User, project: Project, data: bytes, ref: str | None = None, root: str = ""
) -> Scan:
    """A scan whose source is an uploaded SARIF report (``check_report``), filed under ``ref``
    (default ``sarif/<tool>``, see ``default_ref``); ``root`` is the absolute directory the tool ran in, to make absolute
    paths in the report relative. Who may start scans may upload; the upload is audited."""
    require_member(user=user, organization_id=project.organization_id, action=Action.SCAN_CREATE)
    root = _checked_root(root)
    tool, findings = check_report(data, root=root)
    ref = _checked_ref(ref or default_ref(tool), field="ref")
    with transaction.atomic():
        _check_queue_quota(organization_id=project.organization_id)
        scan = _create_locked(
            project=project, ref=ref, requested_by=user, trigger=ScanTrigger.SARIF
        )
        # In the same transaction: a worker is asked for only once it has committed.
        ScanUpload.objects.create(
            scan=scan, content=data, size=len(data), options={"root": root} if root else {}
        )
        record(
            action=AuditAction.SARIF_UPLOAD,
            actor=user,
            organization_id=project.organization_id,
            target_type="scan",
            target_id=scan.pk,
            target=project.name,
            details={"tool": tool, "results": findings, "bytes": len(data), "ref": ref},
        )
    scan.refresh_from_db()
    return scan
