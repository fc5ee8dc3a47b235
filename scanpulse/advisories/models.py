"""The loaded advisory database: one active dataset of OSV records, indexed by package, and
what the OSV feed sync knows of each ecosystem's export."""

from django.db import models


class AdvisoryDataset(models.Model):
    source = models.CharField(max_length=1000)
    record_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # the first problems, for the operator
    loaded_at = models.DateTimeField()  # moves with every change (snapshots are keyed on it)
    is_active = models.BooleanField(default=False, db_index=True)
    # Kept up to date by the OSV feed sync, export by export (else loaded once from a path).
    is_feed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-loaded_at"]

    def __str__(self) -> str:
        return f"{self.source} ({self.record_count} records)"


class AdvisoryRecord(models.Model):
    """One OSV record under one affected package; a record affecting several packages is
    stored once per package so lookups are a single indexed query."""

    dataset = models.ForeignKey(AdvisoryDataset, on_delete=models.CASCADE, related_name="records")
    ecosystem = models.CharField(max_length=50)
    name = models.CharField(max_length=300)  # normalized (PEP 503 for PyPI)
    osv_id = models.CharField(max_length=200)
    record = models.JSONField()
    # The ecosystem export the record came from ("" for a directory or zip loaded by path),
    # and the SHA-256 of its normalized content: a feed sync replaces only changed records.
    feed = models.CharField(max_length=50, blank=True, default="")
    digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["dataset", "ecosystem", "name"]),
            models.Index(fields=["dataset", "feed", "osv_id"], name="advisories_record_feed_id"),
        ]

    def __str__(self) -> str:
        return f"{self.osv_id} ({self.ecosystem}/{self.name})"


class FeedState(models.Model):
    """One ecosystem's OSV export (``<base>/<ecosystem>/all.zip``): the validators of the copy
    loaded (for conditional requests), how many records it holds, and how fresh it is."""

    ecosystem = models.CharField(max_length=50, unique=True)
    url = models.CharField(max_length=1000)  # as shown: no credentials, no query
    etag = models.CharField(max_length=500, blank=True, default="")
    last_modified = models.CharField(max_length=100, blank=True, default="")
    records = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    # What the copy loaded could not use: records skipped whole, ranges ignored, listed
    # versions not matched (a malformed event, a partial version that names no single
    # version): how many, and the first of them.
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["ecosystem"]

    def __str__(self) -> str:
        return f"{self.ecosystem} ({self.records} records)"
