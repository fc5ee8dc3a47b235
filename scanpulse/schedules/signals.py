"""A schedule deleted — itself, or with its project or organization — takes its periodic
task along, so that ``celery beat`` stops sending it."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Schedule
from .services import remove_periodic_task


@receiver(post_delete, sender=Schedule, dispatch_uid="scanpulse.schedules.periodic_task")
def _schedule_deleted(sender: Any, instance: Schedule, **kwargs: Any) -> None:
    remove_periodic_task(instance.periodic_task_id)
