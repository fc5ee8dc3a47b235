"""Reads of schedules, scoped to the caller's organizations through their project."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from scanpulse.core.exceptions import NotFound
from scanpulse.projects.models import Project

from .models import Schedule


def schedule_list(*, project: Project) -> QuerySet[Schedule]:
    """The project's schedules; ``project`` comes from ``project_get`` (the caller's)."""
    return Schedule.objects.filter(project=project).select_related("project", "created_by")


def schedule_get(*, project: Project, schedule_id: UUID | str) -> Schedule:
    schedule = schedule_list(project=project).filter(pk=schedule_id).first()
    if schedule is None:
        raise NotFound("Schedule not found.")
    return schedule
