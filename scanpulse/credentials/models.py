"""Credentials for fetching private repositories, and the SSH host keys pinned per project.

A project is named by its id only (no foreign key upwards: projects sit above credentials and
hold the reference to the credential they use, ``Project.credential``)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from scanpulse.core.models import UUIDModel
from scanpulse.core.text import validate_visible_text
from scanpulse.tenancy.models import Organization


class CredentialKind(models.TextChoices):
    HTTPS_TOKEN = "https_token", "HTTPS token"
    SSH_KEY = "ssh_key", "SSH deploy key"


class Credential(UUIDModel):
    """An HTTPS token (with its username) or an SSH private key, sealed
    (``scanpulse.core.crypto``); never shown again once saved. ``project_id`` is set for a
    project's own credential, empty for an organization's, which several projects may use."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="credentials"
    )
    project_id = models.UUIDField(null=True, blank=True, db_index=True)
    kind = models.CharField(max_length=20, choices=CredentialKind.choices)
    name = models.CharField(max_length=100, validators=[validate_visible_text])
    username = models.CharField(max_length=255, blank=True, default="")
    # Sealed with SCANPULSE_ENCRYPTION_KEYS (registered for ``scanpulse reencrypt``).
    secret = models.TextField()
    # SHA256:… of an SSH key (as ssh-keygen shows it), a short keyed digest of a token.
    fingerprint = models.CharField(max_length=100)
    public_key = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                condition=Q(project_id__isnull=True),
                name="unique_organization_credential_name",
            ),
            models.UniqueConstraint(
                fields=["project_id"],
                condition=Q(project_id__isnull=False),
                name="one_credential_per_project",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Credential {self.pk} {self.kind} {self.name!r}>"

    @property
    def scope(self) -> str:
        return "organization" if self.project_id is None else "project"


class HostKeyPin(UUIDModel):
    """The SSH host key a project trusts for one host: learned on the first fetch (trust on
    first use), then required; owners and admins may reset it or set it by hand."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="host_key_pins"
    )
    project_id = models.UUIDField(db_index=True)
    host = models.CharField(max_length=300)  # as ssh's known_hosts names it: host or [host]:port
    key_type = models.CharField(max_length=50)
    public_key = models.TextField()  # base64, as in known_hosts
    fingerprint = models.CharField(max_length=100)

    class Meta:
        ordering = ["host", "key_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "host", "key_type"], name="unique_host_key_pin"
            )
        ]

    def known_hosts_line(self) -> str:
        return f"{self.host} {self.key_type} {self.public_key}"
