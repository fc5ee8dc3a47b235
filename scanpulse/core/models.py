"""Model base classes shared by every domain package."""

import uuid

from django.db import models


class UUIDModel(models.Model):
    """Public objects are identified by random UUIDs: unguessable, and no node coordinates ids."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
