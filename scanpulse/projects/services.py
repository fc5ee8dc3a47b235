"""Writes for projects."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.exceptions import NotFound, PermissionDenied

from scanpulse.core.errors import ApiError
from scanpulse.tenancy.models import Membership, Organization

from .models import Project


def _membership(*, user: Any, organization: Organization) -> Membership:
    membership = Membership.objects.filter(user=user, organization=organization).first()
    if membership is None:
        raise NotFound("Organization not found.")
    return membership


def _duplicate_name(name: str) -> ApiError:
    return ApiError(
        "A project with this name already exists in the organization.",
        fields={"name": ["A project with this name already exists in the organization."]},
    )


def project_create(
    *, user: Any, organization: Organization, name: str, repo_url: str, default_branch: str
) -> Project:
    _membership(user=user, organization=organization)
    try:
        with transaction.atomic():
            return Project.objects.create(
                organization=organization,
                name=name,
                repo_url=repo_url,
                default_branch=default_branch,
                created_by=user,
            )
    except IntegrityError as exc:
        raise _duplicate_name(name) from exc


def project_update(*, user: Any, project: Project, changes: dict[str, Any]) -> Project:
    if "repo_url" in changes and changes["repo_url"] != project.repo_url:
        # What a project fetches decides what its scans read: like deleting it, an owner's
        # or an admin's decision.
        if not _membership(user=user, organization=project.organization).can_manage:
            raise PermissionDenied("Only owners and admins can change a project's repository.")
    for field, value in changes.items():
        setattr(project, field, value)
    try:
        with transaction.atomic():
            project.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        raise _duplicate_name(project.name) from exc
    return project


def project_delete(*, user: Any, project: Project) -> None:
    if not _membership(user=user, organization=project.organization).can_manage:
        raise PermissionDenied("Only owners and admins can delete projects.")
    project.delete()
