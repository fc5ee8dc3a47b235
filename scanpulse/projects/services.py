"""Writes for projects."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from scanpulse.analyzers.registry import load_analyzers
from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Invalid
from scanpulse.credentials.services import project_credentials_forget
from scanpulse.pipeline.repo_config import PROJECT_DEFAULTS, RepoConfigError, parse_rules
from scanpulse.tenancy.models import Membership, Organization
from scanpulse.tenancy.permissions import Action, require
from scanpulse.tenancy.selectors import membership_get
from scanpulse.tenancy.types import User

from .gate import QualityGate, parse_policy
from .models import Project
from .validation import RepoLocationError, check_local_location


def _require(*, user: User, organization: Organization, action: Action) -> Membership:
    return require(membership_get(user=user, organization=organization), action)


def _duplicate_name(name: str) -> Invalid:
    return Invalid(
        "A project with this name already exists in the organization.",
        fields={"name": ["A project with this name already exists in the organization."]},
    )


def _check_location(*, organization: Organization, repo_url: str, must_exist: bool) -> None:
    try:
        check_local_location(repo_url, organization=organization, must_exist=must_exist)
    except RepoLocationError as exc:
        raise Invalid(str(exc), fields={"repo_url": [str(exc)]}) from None


def _check_scan_config(text: str) -> None:
    """Refuses a default configuration a scan would fail on, saying where it is wrong (the
    analyzers it names are those scans run, plugins in SCANPULSE_ANALYZER_PATHS included)."""
    if "\x00" in text:
        raise Invalid(
            "NUL characters are not allowed.",
            fields={"scan_config": ["NUL characters are not allowed."]},
        )
    try:
        parse_rules(
            text,
            file=PROJECT_DEFAULTS,
            analyzers=list(
                load_analyzers(
                    settings.SCANPULSE_ANALYZERS, plugin_paths=settings.SCANPULSE_ANALYZER_PATHS
                )
            ),
        )
    except RepoConfigError as exc:
        raise Invalid(str(exc), fields={"scan_config": [str(exc)]}) from None


def project_create(
    *,
    user: User,
    organization: Organization,
    name: str,
    repo_url: str,
    default_branch: str,
    must_exist: bool = True,
) -> Project:
    """``must_exist=False`` records a local path that is not a directory (yet), for its scans
    to report: the command line's local mode shows every attempt in the scan history."""
    _require(user=user, organization=organization, action=Action.PROJECT_CREATE)
    _check_location(organization=organization, repo_url=repo_url, must_exist=must_exist)
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


def project_update(*, user: User, project: Project, changes: dict[str, Any]) -> Project:
    _require(user=user, organization=project.organization, action=Action.PROJECT_UPDATE)
    if "repo_url" in changes and changes["repo_url"] != project.repo_url:
        _require(
            user=user, organization=project.organization, action=Action.PROJECT_CHANGE_REPOSITORY
        )
        _check_location(
            organization=project.organization, repo_url=changes["repo_url"], must_exist=True
        )
    if "scan_config" in changes and changes["scan_config"] != project.scan_config:
        _require(
            user=user, organization=project.organization, action=Action.PROJECT_CHANGE_SCAN_CONFIG
        )
        _check_scan_config(changes["scan_config"])
    if "gate_policy" in changes:
        _require(user=user, organization=project.organization, action=Action.PROJECT_GATE)
        current = QualityGate.from_stored(project.gate_policy)
        changes["gate_policy"] = parse_policy(changes["gate_policy"], base=current).to_json()
    # What decides what scans read and which builds pass is recorded in the audit log.
    audited = sorted(
        field
        for field in ("repo_url", "scan_config", "gate_policy")
        if field in changes and changes[field] != getattr(project, field)
    )
    for field, value in changes.items():
        setattr(project, field, value)
    try:
        with transaction.atomic():
            project.save(update_fields=[*changes, "updated_at"])
            if audited:
                _audit(user, project, changed=audited)
    except IntegrityError as exc:
        raise _duplicate_name(project.name) from exc
    return project


def _audit(user: User, project: Project, **details: Any) -> None:
    record(
        action=AuditAction.PROJECT_SETTINGS,
        actor=user,
        organization_id=project.organization_id,
        target_type="project",
        target_id=project.pk,
        target=project.name,
        details=details,
    )


def project_delete(*, user: User, project: Project) -> None:
    _require(user=user, organization=project.organization, action=Action.PROJECT_DELETE)
    project_id = project.pk
    with transaction.atomic():
        _audit(user, project, deleted=True)
        project.delete()
        project_credentials_forget(project_id=project_id)
