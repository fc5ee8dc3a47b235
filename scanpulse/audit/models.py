"""The audit log: who did what, from where, when, to what, in which organization.

Append-only for the application: an entry is written once by ``scanpulse.audit.record`` and
never changed; ``save()`` of an existing row, ``delete()`` and the queryset's ``update()`` and
``delete()`` refuse. The one path that removes entries is the retention job
(``scanpulse.audit.retention``), which deletes old rows with a raw delete. On PostgreSQL a
trigger refuses any ``UPDATE`` of the table as well.

Organizations and actors are kept by id and by name, without foreign keys: an entry outlives
the user it names, and deleting an organization or a user changes nothing here.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.db import models


class AppendOnly(Exception):
    """An attempt to change or delete an audit entry through the application."""


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnly("Audit entries cannot be changed.")

    def delete(self) -> NoReturn:
        raise AppendOnly("Audit entries are removed by the retention job only.")


class AuditEntry(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    organization_id = models.UUIDField(null=True, blank=True, db_index=True)
    actor_id = models.IntegerField(null=True, blank=True)
    actor = models.CharField(max_length=254, blank=True)  # the actor's email when recorded
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=300, blank=True)  # what the target was called
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization_id", "-created_at"], name="audit_org_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit entries cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("Audit entries are removed by the retention job only.")
