"""Scans, their findings and the per-analyzer record of each run."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from scanpulse.alerts.models import LINE_RANK, SEVERITY_RANK, DismissalReason
from scanpulse.analyzers.base import SEVERITIES, cwe_ids
from scanpulse.core.models import UUIDModel
from scanpulse.projects.models import Project
from scanpulse.tenancy.models import Organization

from .types import TERMINAL_KINDS


class ScanStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# The statuses that end a scan: the kinds of the terminal events its log ends with.
TERMINAL_STATUSES = frozenset(ScanStatus(kind) for kind in TERMINAL_KINDS)


class ScanTrigger(models.TextChoices):
    """What started a scan: someone (the API, the pages, the command line) or a repository
    host's webhook (push or pull request)."""

    USER = "user", "User"
    PUSH = "push", "Push webhook"
    PULL_REQUEST = "pull_request", "Pull request webhook"
    SBOM = "sbom", "SBOM upload"
    SARIF = "sarif", "SARIF upload"


class Scan(UUIDModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scans")
    # Denormalized from the project (which never changes organization): scoping and the
    # event log read it without a join.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    ref = models.CharField(max_length=255)
    commit_sha = models.CharField(max_length=64, blank=True, default="")
    # The commit asked for (a webhook names the pushed commit or the pull request's head):
    # the checkout is of that commit, under the name ``ref``; empty: the ref's head.
    requested_commit = models.CharField(max_length=64, blank=True, default="")
    # The branch the scan is compared with (a pull request's target, or ``--base``): its
    # findings are new, unchanged or fixed against that branch's latest completed scan.
    base_ref = models.CharField(max_length=255, blank=True, default="")
    # The pull or merge request scanned ({"number", "title", "url", "source_branch",
    # "target_branch", "host"}), null for any other scan.
    pull_request = models.JSONField(null=True, blank=True)
    # The completed scan the findings were classified against (null: none, or not yet).
    compared_with = models.UUIDField(null=True, blank=True)
    # The ref of ``compared_with`` (empty: none).
    compared_with_ref = models.CharField(max_length=255, blank=True, default="")
    trigger = models.CharField(max_length=20, choices=ScanTrigger.choices, default=ScanTrigger.USER)
    # Who or what started it, in words, for scans no user started ("the GitHub webhook,
    # delivery …").
    started_by = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=ScanStatus.choices, default=ScanStatus.PENDING, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True, default="")
    findings_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_message = models.TextField(blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)
    # The verdict of the project's quality gate, stored when the scan finished (``.gate``);
    # null before, and for scans that finished before verdicts were stored.
    gate = models.JSONField(null=True, blank=True)

    # The event log's head: the number of the newest event (0 = none yet).
    last_event_seq = models.BigIntegerField(default=0)
    events_purged_at = models.DateTimeField(null=True, blank=True)

    # Execution bookkeeping.
    attempt = models.PositiveSmallIntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "ref", "status", "-created_at"]),
            # Scheduling: waiting and running scans per organization, oldest first.
            models.Index(fields=["status", "organization", "created_at"]),
            # A webhook's duplicate check: a commit of a ref scanned once.
            models.Index(fields=["project", "ref", "requested_commit"]),
        ]

    def __str__(self) -> str:
        return f"{self.project} @ {self.ref} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class ScanEvent(models.Model):
    """One event of a scan's log, numbered 1, 2, 3… per scan (``seq``) and per organization
    (``org_seq``). ``seq`` is allocated under the scan row's lock with the insert; ``org_seq``
    by the organization's numbering step, which may run just after the insert commits (NULL
    until then: org readers skip the event until it has its number). Both make commit order
    equal number order, so readers never see a later number before an earlier one (``.log``)."""

    id = models.BigAutoField(primary_key=True)
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="events")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    org_seq = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=20)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The table the events app created before the log moved here.
        db_table = "events_scanevent"
        ordering = ["scan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "seq"], name="unique_scan_event_seq"),
            models.UniqueConstraint(
                fields=["organization", "org_seq"], name="unique_org_event_seq"
            ),
        ]
        indexes = [
            # The events the organization's numbering step has still to number (few, briefly).
            models.Index(
                fields=["organization", "id"],
                condition=models.Q(org_seq__isnull=True),
                name="scanevent_org_unnumbered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scan_id}#{self.seq} {self.kind}"


# ``SEVERITIES`` as choices, most severe first (``Severity.CRITICAL == "critical"``, labelled
# "Critical"). django-stubs types only the class form of choices, hence the ignore.
Severity = models.TextChoices(  # type: ignore[call-overload]
    "Severity", [(severity.upper(), (severity, severity.capitalize())) for severity in SEVERITIES]
)


class Confidence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class FindingStatus(models.TextChoices):
    NEW = "new", "New"
    UNCHANGED = "unchanged", "Unchanged"
    FIXED = "fixed", "Fixed"


class Finding(UUIDModel):
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="findings")
    tool = models.CharField(max_length=50)
    rule_id = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    confidence = models.CharField(max_length=10, choices=Confidence.choices)
    path = models.CharField(max_length=1024)
    start_line = models.PositiveIntegerField(null=True, blank=True)
    end_line = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField()
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=FindingStatus.choices)
    # Why the project had dismissed the finding's fingerprint when the scan ended (null: it
    # had not). A dismissed finding is reported suppressed and counts in no open total.
    dismissed_reason = models.CharField(
        max_length=20, choices=DismissalReason.choices, null=True, blank=True
    )
    properties = models.JSONField(default=dict, blank=True)
    # The order the analyzers reported them in: the SARIF report's order, and the last tie-break
    # of listings (which show the most severe first, see ``finding_list``).
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scan", "position"]
        indexes = [
            models.Index(fields=["scan", "position"]),
            models.Index(fields=["scan", "severity"]),
            models.Index(fields=["scan", "fingerprint"]),
            # The findings list's order (``selectors.finding_list``): its pages, the last too,
            # are read from the index rather than by sorting all of a scan's findings.
            models.Index(
                models.F("scan"),
                SEVERITY_RANK,
                models.F("path"),
                LINE_RANK,
                models.F("position"),
                models.F("id"),
                name="finding_listing_order",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["scan", "tool", "fingerprint"], name="unique_finding_per_scan"
            )
        ]

    @property
    def cwe_ids(self) -> list[str]:
        """The weaknesses (``CWE-89``, …) the finding's analyzer names for it."""
        return cwe_ids(self.properties.get("cwe") if isinstance(self.properties, dict) else None)

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.path}:{self.start_line}"


class AnalyzerRun(models.Model):
    """What one analyzer did in one scan: its tool version, rules, errors and notes."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="analyzer_runs")
    tool = models.CharField(max_length=50)
    tool_version = models.CharField(max_length=100, blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    rules = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    files_analyzed = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["scan", "tool"]
        constraints = [models.UniqueConstraint(fields=["scan", "tool"], name="unique_analyzer_run")]

    def __str__(self) -> str:
        return f"{self.tool} in {self.scan_id}"


class ScanReport(models.Model):
    """The scan's SARIF 2.1.0 report, gzip-compressed, written when the scan completes."""

    scan = models.OneToOneField(
        Scan, on_delete=models.CASCADE, primary_key=True, related_name="report"
    )
    sarif_gzip = models.BinaryField()
    size = models.PositiveBigIntegerField(help_text="Uncompressed size in bytes.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"SARIF of {self.scan_id}"


class AnalysisCacheEntry(models.Model):
    """Findings of one analyzer for one file content (key: analyzer, version, options, hash),
    reused by later scans of unchanged files."""

    key = models.CharField(max_length=64, primary_key=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.key


class InventoryItem(models.Model):
    """One package version a completed scan found pinned in one manifest: the scan's
    dependency inventory. Re-matched when advisories change (``scans.monitoring``) and
    exported as an SBOM (``scans.sbom``). Names are normalized per ecosystem."""

    id = models.BigAutoField(primary_key=True)
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="inventory")
    ecosystem = models.CharField(max_length=50)
    name = models.CharField(max_length=300)
    version = models.CharField(max_length=200)
    path = models.CharField(max_length=1024)  # the manifest (or uploaded SBOM) it was found in
    line = models.PositiveIntegerField(null=True, blank=True)  # its first line there
    direct = models.BooleanField(default=False)

    class Meta:
        ordering = ["scan", "path", "ecosystem", "name", "version"]
        indexes = [
            # Monitoring looks rows up by the changed advisories' packages.
            models.Index(fields=["ecosystem", "name"]),
        ]

    def __str__(self) -> str:
        return f"{self.ecosystem}:{self.name}@{self.version} ({self.path})"


class AdvisoryMatch(models.Model):
    """An advisory that matched a stored inventory after an advisory load, without a scan
    (``scans.monitoring``): what makes an alert "found by advisory update". Withdrawn: the
    advisory was withdrawn (or left the database) since."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    ref = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="advisory_matches")
    osv_id = models.CharField(max_length=200)
    # The advisory's publication date (else its last change), as the record gives it.
    advisory_date = models.CharField(max_length=40, blank=True, default="")
    matched_at = models.DateTimeField()
    # False: an advisory a scan had found, recorded only because it was withdrawn since.
    found_by_update = models.BooleanField(default=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-matched_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "ref", "fingerprint", "osv_id"], name="unique_advisory_match"
            )
        ]
        indexes = [models.Index(fields=["osv_id"]), models.Index(fields=["project", "fingerprint"])]

    def __str__(self) -> str:
        return f"{self.osv_id} → {self.fingerprint} ({self.ref})"


class ScanUpload(models.Model):
    """What a scan reads instead of a repository: an uploaded CycloneDX SBOM, or an uploaded
    SARIF report (the scan's trigger says which)."""

    scan = models.OneToOneField(
        Scan, on_delete=models.CASCADE, primary_key=True, related_name="upload"
    )
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    # How to read it: for a SARIF report, the directory the tool ran in (``root``).
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"upload of {self.scan_id} ({self.size} bytes)"
