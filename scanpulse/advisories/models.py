"""The loaded advisory database: one active dataset of OSV records, indexed by package."""

from django.db import models


class AdvisoryDataset(models.Model):
    source = models.CharField(max_length=1000)
    record_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # the first problems, for the operator
    loaded_at = models.DateTimeField()
    is_active = models.BooleanField(default=False, db_index=True)

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

    class Meta:
        indexes = [models.Index(fields=["dataset", "ecosystem", "name"])]

    def __str__(self) -> str:
        return f"{self.osv_id} ({self.ecosystem}/{self.name})"
