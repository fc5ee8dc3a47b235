"""Repositories under scan."""

from django.conf import settings
from django.db import models

from scanpulse.core.models import UUIDModel
from scanpulse.core.text import validate_visible_text
from scanpulse.credentials.models import Credential
from scanpulse.tenancy.models import Organization


class Project(UUIDModel):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=100, validators=[validate_visible_text])
    repo_url = models.CharField(max_length=2048)
    default_branch = models.CharField(max_length=255, default="main")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The project's default scan configuration, in the format of ``.scanpulse.toml``: used
    # by scans of a repository without one (docs/configuration.md). Checked when set.
    # A database default too: code of the previous release, still running during a rolling
    # upgrade, inserts projects without it.
    scan_config = models.TextField(blank=True, default="", db_default="")
    updated_at = models.DateTimeField(auto_now=True)
    # The quality gate every completed scan is held to (``.gate``: its form and its default,
    # a complete scan required and nothing else, stored as ``{}`` — or null, for rows written by
    # older code — until someone sets one).
    gate_policy = models.JSONField(default=dict, blank=True, null=True)
    # The credential git fetches with: the project's own, or one of its organization's
    # (``scanpulse.projects.access``); none for a public repository.
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.SET_NULL, related_name="projects"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="unique_project_name")
        ]

    def __str__(self) -> str:
        return self.name
