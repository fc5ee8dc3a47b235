"""Organizations, who belongs to them, and the API tokens people act with."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from scanpulse.core.models import UUIDModel
from scanpulse.core.text import validate_visible_text


class Organization(UUIDModel):
    name = models.CharField(max_length=100, unique=True, validators=[validate_visible_text])
    # Sequence of the org-wide event stream: allocated under this row's lock, so the order of
    # numbers is the order of commits and a cursor never skips a late-committing event.
    last_event_seq = models.BigIntegerField(default=0)
    # Highest org sequence number removed by retention: a cursor below it may have missed
    # purged events, so it gets a reset instead of a partial replay.
    events_purged_through = models.BigIntegerField(default=0)
    # Off: members sign in through single sign-on only (their passwords are refused, in the
    # admin too). See docs/sso.md.
    password_login = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"  # reads everything of the organization, changes nothing


class Membership(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class TokenScope(models.TextChoices):
    """What a token may do, at most what its user's role allows (see ``permissions``)."""

    READ = "read", "Read"  # reads what its user reads; writes nothing
    SCAN = "scan", "Scan"  # also starts and cancels scans and triages alerts
    ADMIN = "admin", "Admin"  # everything its user's role allows


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 digest is stored, the token itself is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, validators=[validate_visible_text])
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_address = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.ADMIN)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until revoked

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Invitation(models.Model):
    """An invitation to join an organization, sent by email as a link; only the digest of the
    link's secret is stored. Expires, and is used once (``accepted_at``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TwoFactor(models.Model):
    """A password account's TOTP authenticator. ``secret`` is sealed (scanpulse.core.crypto);
    it is shown only while enrolment is unconfirmed. ``last_counter`` is the time step of the
    last accepted code: a code is never accepted twice."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor"
    )
    secret = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_counter = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"two-factor of {self.user}"


class RecoveryCode(models.Model):
    """One single-use recovery code; only its SHA-256 digest is stored."""

    two_factor = models.ForeignKey(
        TwoFactor, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.two_factor.user}"


class OrganizationSso(models.Model):
    """An organization's own OpenID Connect provider (besides the deployment's): its members
    sign in at ``/sso/login/?organization=ID``. ``client_secret`` is sealed
    (scanpulse.core.crypto). Set by the operator (``scanpulse org sso``)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="sso_provider"
    )
    issuer = models.CharField(max_length=500)
    client_id = models.CharField(max_length=200)
    client_secret = models.TextField()
    scopes = models.CharField(max_length=200, default="openid email profile")
    # The role of accounts this provider brings into the organization.
    default_role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"single sign-on of {self.organization}"


class AccessChange(models.Model):
    """One change that may alter who a credential is: a token revoked, expired early or
    deleted; a membership added, changed or removed; a user deactivated, given another
    password or deleted; a session changed or ended. Written by database triggers
    (``tenancy/0008``), so changes made in SQL count too; the stream and polling edge reads
    the credentials it holds again only when rows were added here (``access_generation``).
    Append-only, so no change waits on another; old rows are pruned."""

    id = models.BigAutoField(primary_key=True)

    def __str__(self) -> str:
        return f"access change {self.id}"
