"""A project's alerts: the current state of each finding identity (its fingerprint) on each
ref, the team's dismissals of fingerprints, and the history of every triage action.

Alerts sit below scans: scans tell them what each completed scan found (``.sync``), and they
name scans by id only (no foreign key to a layer above).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

from scanpulse.analyzers.base import SEVERITIES
from scanpulse.core.models import UUIDModel
from scanpulse.projects.models import Project

SEVERITY_CHOICES = [(severity, severity.capitalize()) for severity in SEVERITIES]

# 0 for critical … 4 for info: what listings of alerts and findings sort by first, and the
# second column of their indexes (an index on the same expression serves the sort, so a page
# is read from the index instead of sorting every row).
SEVERITY_RANK = models.Case(
    *(
        models.When(severity=value, then=models.Value(rank))
        for rank, value in enumerate(SEVERITIES)
    ),
    default=models.Value(len(SEVERITIES)),
    output_field=models.IntegerField(),
)
# Lines ascending, a finding of a whole file (no line) first: as an expression rather than
# ``NULLS FIRST``, which SQLite's indexes do not take.
LINE_RANK = Coalesce(models.F("start_line"), models.Value(-1), output_field=models.IntegerField())


class AlertState(models.TextChoices):
    """Whether the newest scan of the alert's ref still finds it. What an alert *shows*
    (``open``, ``fixed``, ``excluded``, ``superseded`` or ``dismissed``) also depends on the
    project's dismissals.

    ``excluded``: the newest scan did not look for it, because the configuration now excludes
    its path, disables its rule or turns its analyzer off (``closed_reason`` says which) —
    neither open nor fixed; it opens again once the configuration includes it and it is found.
    ``superseded``: another alert stands for it now (a vulnerable package's advisories, one
    alert each before, grouped into one alert per package version; ``closed_reason`` names it).
    """

    OPEN = "open", "Open"
    FIXED = "fixed", "Fixed"
    EXCLUDED = "excluded", "Excluded"
    SUPERSEDED = "superseded", "Superseded"


class DismissalReason(models.TextChoices):
    FALSE_POSITIVE = "false_positive", "False positive"
    WONT_FIX = "wont_fix", "Won't fix"
    USED_IN_TESTS = "used_in_tests", "Used in tests"
    ACCEPTED_RISK = "accepted_risk", "Accepted risk"


class Alert(UUIDModel):
    """One fingerprint on one ref of a project; its fields are those of the newest finding
    (as stored on findings: secrets already masked)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alerts")
    ref = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    tool = models.CharField(max_length=50)
    rule_id = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=SEVERITY_CHOICES)
    path = models.CharField(max_length=1024)
    start_line = models.PositiveIntegerField(null=True, blank=True)
    end_line = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField()
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.OPEN)
    first_seen_scan = models.UUIDField()
    first_seen_commit = models.CharField(max_length=64, blank=True, default="")
    first_seen_at = models.DateTimeField()
    last_seen_scan = models.UUIDField()
    last_seen_commit = models.CharField(max_length=64, blank=True, default="")
    last_seen_at = models.DateTimeField()
    fixed_at = models.DateTimeField(null=True, blank=True)
    fixed_in_scan = models.UUIDField(null=True, blank=True)
    # Why an excluded or superseded alert is closed, in words (empty for the other states).
    closed_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "ref", "fingerprint"], name="unique_alert_per_ref"
            )
        ]
        indexes = [
            models.Index(fields=["project", "state", "severity"]),
            models.Index(fields=["project", "fingerprint"]),
            models.Index(fields=["project", "last_seen_at"]),
            # The tools of a project's alerts, one probe per tool (``selectors.alert_tools``).
            models.Index(fields=["project", "tool"], name="alert_project_tool"),
            # The alerts list's default order (``selectors.alert_list``).
            models.Index(
                models.F("project"),
                SEVERITY_RANK,
                models.F("path"),
                LINE_RANK,
                models.F("ref"),
                models.F("id"),
                name="alert_listing_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} at {self.path}:{self.start_line} ({self.ref})"


class Dismissal(models.Model):
    """A fingerprint the team dismissed, on every ref of the project, until ``expires_at``
    (never when empty). Removed when reopened or once expired (see ``services``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dismissals")
    fingerprint = models.CharField(max_length=64)
    reason = models.CharField(max_length=20, choices=DismissalReason.choices)
    comment = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "fingerprint"], name="unique_dismissal_per_fingerprint"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} dismissed ({self.reason})"


class TriageAction(models.Model):
    """One entry of a fingerprint's triage history; never changed once written."""

    class Kind(models.TextChoices):
        DISMISSED = "dismissed", "Dismissed"
        REOPENED = "reopened", "Reopened"
        EXPIRED = "expired", "Expired"
        # By the system, from the scans: the configuration stopped or resumed looking for it;
        # a grouped dependency alert took over from this one; a note (a dismissal of its
        # advisories before grouping that did not carry over, and why).
        EXCLUDED = "excluded", "Excluded by configuration"
        INCLUDED = "included", "Included again"
        SUPERSEDED = "superseded", "Superseded"
        NOTE = "note", "Note"

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    action = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=20, choices=DismissalReason.choices, blank=True)
    comment = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    # Who acted (none for the system); the address is kept should the account be deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_email = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "fingerprint", "created_at"])]

    def __str__(self) -> str:
        return f"{self.fingerprint} {self.action}"
