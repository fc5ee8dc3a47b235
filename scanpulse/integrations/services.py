"""Writes of the inbound webhooks: generating an organization's secret, and receiving a
delivery — verifying it, recognising one already received, and starting the scans it asks
for through ``scanpulse.scans.services``.

A delivery is authenticated by its signature alone (no user, no session): a request whose
signature does not verify with the organization's secret starts nothing and is not recorded.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.crypto import seal, unseal
from scanpulse.core.exceptions import Invalid, QuotaExceeded
from scanpulse.projects.models import Project
from scanpulse.scans.models import ScanTrigger
from scanpulse.scans.services import scan_create_for_hook
from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import Delivery, InboundSecret, Outcome
from .parsers import (
    HookEvent,
    Host,
    Kind,
    MalformedPayload,
    decode_body,
    normalize_repository_url,
    parse,
)
from .verification import delivery_id, event_name, verified

logger = logging.getLogger(__name__)

SECRET_BYTES = 32


def inbound_secret_rotate(*, user: User, organization_id: UUID) -> str:
    """A new inbound secret for the organization, replacing the one before (deliveries signed
    with it fail from now on). Returned once, in clear, to show to the caller; stored sealed."""
    require_member(user=user, organization_id=organization_id, action=Action.INBOUND_WEBHOOK_ROTATE)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    InboundSecret.objects.update_or_create(
        organization_id=organization_id,
        defaults={
            "sealed_secret": seal(secret),
            "rotated_at": timezone.now(),
            "rotated_by": user,
        },
    )
    record(
        action=AuditAction.INBOUND_SECRET_ROTATE,
        actor=user,
        organization_id=organization_id,
        target_type="inbound_webhook",
        target_id=organization_id,
        target="inbound webhook secret",
    )
    return secret


class Answer(StrEnum):
    """How a delivery was answered (the endpoint gives each its HTTP status)."""

    UNVERIFIED = "unverified"  # no secret, no signature or a wrong one: 401
    MALFORMED = "malformed"  # verified, but not a payload of its event: 400
    PING = "ping"  # 200
    IGNORED = "ignored"  # an event or action that brings nothing to scan: 202
    STARTED = "started"  # 202
    DUPLICATE = "duplicate"  # received (or the commit scanned) before: 200
    REFUSED = "refused"  # the organization's queue is full: 429


@dataclass(frozen=True, slots=True)
class Receipt:
    answer: Answer
    message: str
    scans: list[str] = field(default_factory=list)
    retry_after: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.answer.value, "message": self.message, "scans": self.scans}


UNVERIFIED = Receipt(
    Answer.UNVERIFIED,
    "The signature does not match this organization's inbound webhook secret.",
)


def _secret_of(organization_id: UUID) -> str:
    sealed = (
        InboundSecret.objects.filter(organization_id=organization_id)
        .values_list("sealed_secret", flat=True)
        .first()
    )
    return unseal(sealed) if sealed else ""


def delivery_receive(
    *,
    organization_id: UUID,
    host: Host,
    headers: Mapping[str, str],
    body: bytes,
    content_type: str,
) -> Receipt:
    """Verify a delivery to the organization's ``host`` URL and act on it."""
    if not Organization.objects.filter(pk=organization_id).exists():
        return UNVERIFIED  # the same answer as a wrong signature: no organization is revealed
    if not verified(host, _secret_of(organization_id), body, headers):
        return UNVERIFIED
    event = event_name(host, headers)
    if not event:
        return Receipt(Answer.MALFORMED, f"The {host.label} event header is missing.")
    try:
        hook = parse(host, event, decode_body(body, content_type))
    except MalformedPayload as exc:
        return Receipt(Answer.MALFORMED, f"The {event} payload cannot be read: {exc}")
    identifier = delivery_id(host, headers)
    if hook.kind == Kind.PING:
        return Receipt(Answer.PING, hook.reason)
    if hook.kind == Kind.IGNORED:
        _record(organization_id, host, identifier, hook, Outcome.IGNORED, hook.reason, [])
        return Receipt(Answer.IGNORED, f"Ignored: {hook.reason}.")
    if identifier:
        earlier = Delivery.objects.filter(
            organization_id=organization_id, host=host, delivery_id=identifier
        ).first()
        if earlier is not None and earlier.outcome != Outcome.REFUSED:
            return Receipt(
                Answer.DUPLICATE,
                f"Delivery {identifier} was received before ({earlier.get_outcome_display()}); "
                "nothing new was started.",
                scans=list(earlier.scans),
            )
    return _start_scans(organization_id, host, identifier, hook)


def _projects_of(organization_id: UUID, hook: HookEvent) -> list[Project]:
    wanted = {normalize_repository_url(url) for url in hook.repository_urls}
    return [
        project
        for project in Project.objects.filter(organization_id=organization_id).order_by("name")
        if normalize_repository_url(project.repo_url) in wanted
    ]


def _started_by(host: Host, identifier: str) -> str:
    text = f"the {host.label} webhook"
    return f"{text}, delivery {identifier}" if identifier else text


def _start_scans(organization_id: UUID, host: Host, identifier: str, hook: HookEvent) -> Receipt:
    projects = _projects_of(organization_id, hook)
    what = (
        f"pull request #{hook.pull_request['number']}"
        if hook.pull_request
        else f"the push to {hook.ref}"
    )
    if not projects:
        reason = (
            f"no project of this organization has the repository "
            f"{hook.repository_name or hook.repository_urls[0]}"
        )
        _record(organization_id, host, identifier, hook, Outcome.IGNORED, reason, [])
        return Receipt(Answer.IGNORED, f"Ignored: {reason}.")
    started: list[str] = []
    existing: list[str] = []
    refused: QuotaExceeded | None = None
    for project in projects:
        try:
            scan, created = scan_create_for_hook(
                project=project,
                ref=hook.ref,
                commit=hook.commit,
                started_by=_started_by(host, identifier),
                trigger=ScanTrigger.PULL_REQUEST if hook.pull_request else ScanTrigger.PUSH,
                base_ref=hook.base_ref,
                pull_request=hook.pull_request,
            )
        except QuotaExceeded as exc:
            refused = exc
            continue
        except Invalid as exc:
            _record(organization_id, host, identifier, hook, Outcome.IGNORED, exc.message, [])
            return Receipt(Answer.MALFORMED, f"The {hook.event} payload cannot be scanned: {exc}")
        (started if created else existing).append(str(scan.id))
    scans = started + existing
    short = hook.commit[:12]
    if refused is not None:
        reason = f"{refused.message} ({what}, commit {short})"
        _record(organization_id, host, identifier, hook, Outcome.REFUSED, reason, scans)
        return Receipt(Answer.REFUSED, reason, scans=scans, retry_after=refused.retry_after)
    if started:
        reason = f"scanning {what}, commit {short}, in {len(started)} project(s)"
        _record(organization_id, host, identifier, hook, Outcome.STARTED, reason, scans)
        return Receipt(Answer.STARTED, f"Started: {reason}.", scans=scans)
    reason = f"commit {short} of {hook.ref} is already scanned or being scanned"
    _record(organization_id, host, identifier, hook, Outcome.DUPLICATE, reason, scans)
    return Receipt(Answer.DUPLICATE, f"Nothing new started: {reason}.", scans=scans)


def _record(
    organization_id: UUID,
    host: Host,
    identifier: str,
    hook: HookEvent,
    outcome: Outcome,
    reason: str,
    scans: list[str],
) -> None:
    """Keep what came of the delivery (a refused one may come again: its record is updated)."""
    values = {
        "event": hook.event[:100],
        "repository": (hook.repository_name or next(iter(hook.repository_urls), ""))[:500],
        "ref": hook.ref[:255],
        "commit": hook.commit[:64],
        "outcome": outcome,
        "reason": reason,
        "scans": scans,
    }
    try:
        with transaction.atomic():
            if identifier:
                Delivery.objects.update_or_create(
                    organization_id=organization_id,
                    host=host,
                    delivery_id=identifier,
                    defaults=values,
                )
            else:
                Delivery.objects.create(organization_id=organization_id, host=host, **values)
    except IntegrityError:
        # The same delivery, received twice at once: the other request recorded it.
        logger.info("inbound delivery %s of %s recorded concurrently", identifier, host)
