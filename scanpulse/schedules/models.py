"""Schedules: scans a project starts by itself, by a cron expression or an interval."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_celery_beat.models import PeriodicTask

from scanpulse.core.models import UUIDModel
from scanpulse.projects.models import Project
from scanpulse.scans.models import Scan


class ScheduleKind(models.TextChoices):
    CRON = "cron", "Cron expression"
    INTERVAL = "interval", "Interval"


class IntervalPeriod(models.TextChoices):
    MINUTES = "minutes", "Minutes"
    HOURS = "hours", "Hours"
    DAYS = "days", "Days"


class RunOutcome(models.TextChoices):
    STARTED = "started", "Started a scan"
    SKIPPED = "skipped", "Skipped"
    REFUSED = "refused", "Refused"


class Schedule(UUIDModel):
    """A project's scans of one ref, started at the times of ``cron`` (in ``timezone``'s wall
    clock) or every ``every`` ``period``.

    It owns a django-celery-beat ``PeriodicTask`` (production's ``celery beat`` runs it; the
    embedded server runs due schedules itself from ``next_run_at``), kept in step by
    ``.services`` and removed with the schedule (``.signals``).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schedules")
    ref = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=ScheduleKind.choices)
    cron = models.CharField(max_length=200, blank=True, default="")
    every = models.PositiveIntegerField(null=True, blank=True)
    period = models.CharField(max_length=10, choices=IntervalPeriod.choices, blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When it runs next (null while disabled); for the interval's count and the pages.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(
        max_length=10, choices=RunOutcome.choices, blank=True, default=""
    )
    last_message = models.CharField(max_length=500, blank=True, default="")
    last_scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.project} @ {self.ref}: {self.describe()}"

    def describe(self) -> str:
        """``0 3 * * * (Europe/Berlin)`` or ``every 6 hours``."""
        if self.kind == ScheduleKind.CRON:
            return f"{self.cron} ({self.timezone})"
        unit = self.period if self.every != 1 else self.period.rstrip("s")
        return f"every {self.every} {unit}"
