"""Reads of projects, always scoped to the caller's organizations."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from scanpulse.core.exceptions import NotFound
from scanpulse.tenancy.types import User

from .models import Project


def project_list(*, user: User, organization_id: UUID | None = None) -> QuerySet[Project]:
    projects = Project.objects.filter(organization__memberships__user=user).select_related(
        "organization"
    )
    if organization_id is not None:
        projects = projects.filter(organization_id=organization_id)
    return projects.order_by("name")


def project_get(*, user: User, project_id: UUID | str) -> Project:
    """The project, or 404 — also when it belongs to an organization the user is not in."""
    project = project_list(user=user).filter(pk=project_id).first()
    if project is None:
        raise NotFound("Project not found.")
    return project
