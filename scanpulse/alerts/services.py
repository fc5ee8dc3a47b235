"""Triage: dismissing and reopening a project's alerts, and the expiry of accepted risks.

A dismissal belongs to the fingerprint in the project, so it holds on every ref and on every
later scan while the fingerprint matches. Every change is one ``TriageAction`` in the
fingerprint's history (who, when, reason, comment); an expiry is recorded by the system.
Members, admins and owners may triage; viewers may not (``tenancy.permissions``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Invalid
from scanpulse.projects.models import Project
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import Alert, Dismissal, DismissalReason, TriageAction
from .selectors import Suppression, alert_list

logger = logging.getLogger(__name__)

# At most this many alerts in one bulk triage, and what it may do to them.
MAX_BULK = 500
BULK_ACTIONS = ("dismiss", "reopen")
MAX_COMMENT = 2000


def _check_dismissal(reason: str, comment: str, expires_at: datetime | None, now: datetime) -> None:
    if reason not in DismissalReason.values:
        message = f"Unknown reason; use one of {', '.join(DismissalReason.values)}."
        raise Invalid(message, fields={"reason": [message]})
    if len(comment) > MAX_COMMENT:
        message = f"At most {MAX_COMMENT} characters."
        raise Invalid(message, fields={"comment": [message]})
    if reason == DismissalReason.ACCEPTED_RISK and expires_at is None:
        message = (
            "An accepted risk needs an expiry (expires_at): when should it be looked at again?"
        )
        raise Invalid(message, fields={"expires_at": [message]})
    if expires_at is not None and expires_at <= now:
        message = "The expiry must be in the future."
        raise Invalid(message, fields={"expires_at": [message]})


def _record(
    *,
    project: Project,
    fingerprints: Sequence[str],
    action: str,
    user: User | None,
    now: datetime,
    reason: str = "",
    comment: str = "",
    expires_at: datetime | None = None,
) -> None:
    TriageAction.objects.bulk_create(
        TriageAction(
            project=project,
            fingerprint=fingerprint,
            action=action,
            reason=reason,
            comment=comment,
            expires_at=expires_at,
            user=user,
            user_email=user.email if user is not None else "",
            created_at=now,
        )
        for fingerprint in fingerprints
    )
    if user is not None and fingerprints:
        record(
            action=AuditAction.ALERT_TRIAGE,
            actor=user,
            organization_id=project.organization_id,
            target_type="project",
            target_id=project.pk,
            target=project.name,
            details={
                "action": action,
                "reason": reason,
                "alerts": len(fingerprints),
                "fingerprints": list(fingerprints[:20]),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )


def _expire(*, project_id: UUID, fingerprints: Sequence[str] | None, now: datetime) -> int:
    """Remove the project's dismissals past their expiry (of ``fingerprints``, or all),
    recording each as expired by the system. Runs in the caller's transaction."""
    expired = Dismissal.objects.select_for_update().filter(
        project_id=project_id, expires_at__lte=now
    )
    if fingerprints is not None:
        expired = expired.filter(fingerprint__in=fingerprints)
    rows = list(expired.values_list("pk", "fingerprint", "reason", "comment", "expires_at"))
    if not rows:
        return 0
    Dismissal.objects.filter(pk__in=[row[0] for row in rows]).delete()
    TriageAction.objects.bulk_create(
        TriageAction(
            project_id=project_id,
            fingerprint=fingerprint,
            action=TriageAction.Kind.EXPIRED,
            reason=reason,
            comment=comment,
            expires_at=expires_at,
            created_at=now,
        )
        for _pk, fingerprint, reason, comment, expires_at in rows
    )
    return len(rows)


def alerts_dismiss(
    *,
    user: User,
    project: Project,
    alerts: Sequence[Alert],
    reason: str,
    comment: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Dismiss the alerts' fingerprints on every ref of the project (replacing an earlier
    dismissal of the same fingerprint), all or none."""
    require_member(user=user, organization_id=project.organization_id, action=Action.ALERT_TRIAGE)
    now = now or timezone.now()
    _check_dismissal(reason, comment, expires_at, now)
    fingerprints = sorted({alert.fingerprint for alert in alerts})
    with transaction.atomic():
        _expire(project_id=project.id, fingerprints=fingerprints, now=now)
        for fingerprint in fingerprints:
            Dismissal.objects.update_or_create(
                project=project,
                fingerprint=fingerprint,
                defaults={
                    "reason": reason,
                    "comment": comment,
                    "expires_at": expires_at,
                    "dismissed_by": user,
                    "dismissed_at": now,
                },
            )
        _record(
            project=project,
            fingerprints=fingerprints,
            action=TriageAction.Kind.DISMISSED,
            user=user,
            now=now,
            reason=reason,
            comment=comment,
            expires_at=expires_at,
        )


def alerts_reopen(
    *,
    user: User,
    project: Project,
    alerts: Sequence[Alert],
    comment: str = "",
    now: datetime | None = None,
) -> None:
    """Reopen the dismissed ones among the alerts (on every ref); reopening an alert that is
    not dismissed changes nothing and records nothing."""
    require_member(user=user, organization_id=project.organization_id, action=Action.ALERT_TRIAGE)
    now = now or timezone.now()
    if len(comment) > MAX_COMMENT:
        message = f"At most {MAX_COMMENT} characters."
        raise Invalid(message, fields={"comment": [message]})
    fingerprints = sorted({alert.fingerprint for alert in alerts})
    with transaction.atomic():
        _expire(project_id=project.id, fingerprints=fingerprints, now=now)
        dismissed = Dismissal.objects.select_for_update().filter(
            project=project, fingerprint__in=fingerprints
        )
        reopened = sorted(dismissed.values_list("fingerprint", flat=True))
        Dismissal.objects.filter(project=project, fingerprint__in=reopened).delete()
        _record(
            project=project,
            fingerprints=reopened,
            action=TriageAction.Kind.REOPENED,
            user=user,
            now=now,
            comment=comment,
        )


def alerts_triage(
    *,
    user: User,
    project: Project,
    alert_ids: Sequence[UUID],
    action: str,
    reason: str | None = None,
    comment: str = "",
    expires_at: datetime | None = None,
) -> list[Alert]:
    """Bulk triage: dismiss (with one reason) or reopen the project's alerts with these ids,
    all or none; refused, naming them, if any id is not an alert of the project."""
    require_member(user=user, organization_id=project.organization_id, action=Action.ALERT_TRIAGE)
    alerts = alerts_resolve(project=project, alert_ids=alert_ids)
    if action == "dismiss":
        if reason is None:
            raise Invalid("A reason is required to dismiss.", fields={"reason": ["Required."]})
        alerts_dismiss(
            user=user,
            project=project,
            alerts=alerts,
            reason=reason,
            comment=comment,
            expires_at=expires_at,
        )
    elif action == "reopen":
        alerts_reopen(user=user, project=project, alerts=alerts, comment=comment)
    else:
        raise Invalid("Unknown action; use dismiss or reopen.", fields={"action": ["Unknown."]})
    return alerts


def alerts_resolve(*, project: Project, alert_ids: Sequence[UUID]) -> list[Alert]:
    """The project's alerts with these ids; refused, naming them, if any is not one."""
    if len(alert_ids) > MAX_BULK:
        message = f"At most {MAX_BULK} alerts at once."
        raise Invalid(message, fields={"alerts": [message]})
    wanted = list(dict.fromkeys(alert_ids))
    found = {alert.id: alert for alert in alert_list(project=project).filter(pk__in=wanted)}
    unknown = [str(alert_id) for alert_id in wanted if alert_id not in found]
    if unknown:
        message = f"Not alerts of this project: {', '.join(unknown)}. Nothing was changed."
        raise Invalid(message, fields={"alerts": [message]}, code="unknown_alerts")
    return [found[alert_id] for alert_id in wanted]


def expire_dismissals(*, now: datetime | None = None) -> int:
    """Housekeeping: every dismissal past its expiry ends, recorded as expired. Safe to run
    in several processes at once."""
    now = now or timezone.now()
    expired = 0
    projects = (
        Dismissal.objects.filter(expires_at__lte=now)
        .order_by()
        .values_list("project_id", flat=True)
        .distinct()
    )
    for project_id in list(projects):
        with transaction.atomic():
            expired += _expire(project_id=project_id, fingerprints=None, now=now)
    if expired:
        logger.info("%d dismissals expired", expired)
    return expired


def dismissals_from_repository(
    *, project_id: UUID, suppressions: Mapping[str, Suppression], now: datetime | None = None
) -> int:
    """Record the dismissals the repository declares itself (secrets audited as false
    positives in its detect-secrets baseline), by the system, for the fingerprints the project
    has not dismissed yet; returns how many were recorded. A team's own decision is never
    replaced, and reopening one later is the team's to do."""
    now = now or timezone.now()
    wanted = sorted(suppressions)
    taken = set(
        Dismissal.objects.filter(project_id=project_id, fingerprint__in=wanted).values_list(
            "fingerprint", flat=True
        )
    )
    new = [fingerprint for fingerprint in wanted if fingerprint not in taken]
    Dismissal.objects.bulk_create(
        Dismissal(
            project_id=project_id,
            fingerprint=fingerprint,
            reason=suppressions[fingerprint].reason,
            comment=suppressions[fingerprint].comment,
            dismissed_by=None,
            dismissed_at=now,
        )
        for fingerprint in new
    )
    TriageAction.objects.bulk_create(
        TriageAction(
            project_id=project_id,
            fingerprint=fingerprint,
            action=TriageAction.Kind.DISMISSED,
            reason=suppressions[fingerprint].reason,
            comment=suppressions[fingerprint].comment,
            created_at=now,
        )
        for fingerprint in new
    )
    return len(new)
