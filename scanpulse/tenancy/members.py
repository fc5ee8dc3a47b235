"""Who belongs to an organization: invitations by email link, role changes, removal.

Owners and admins manage members (``Action.MEMBER_MANAGE``); only an owner makes someone an
owner or changes or removes an owner, and an organization always keeps one owner. Anyone may
leave, except its last owner. Every change is saved through the ORM, so the membership
signals close the streams of someone removed (or whose role changed) at once
(``scanpulse.events.services.on_membership_changed``), and each is recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Conflict, Forbidden, Invalid, NotFound

from .models import Invitation, Membership, Organization, Role
from .permissions import Action, require_member
from .selectors import membership_of
from .types import User

INVITATION_PREFIX = "spi_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _owners(organization_id: UUID) -> int:
    return Membership.objects.filter(organization_id=organization_id, role=Role.OWNER).count()


def _role(role: str) -> Role:
    if role not in Role.values:
        message = f"Unknown role {role!r}; use one of {', '.join(Role.values)}."
        raise Invalid(message, fields={"role": [message]})
    return Role(role)


def invitation_create(
    *,
    user: User,
    organization_id: UUID,
    email: str,
    role: str,
    link: Callable[[str], str],
) -> Invitation:
    """Invite ``email`` with ``role`` and mail them the link ``link(secret)``; the secret is
    in the mail only (its digest is stored). Only an owner invites an owner."""
    manager = require_member(
        user=user, organization_id=organization_id, action=Action.MEMBER_MANAGE
    )
    role = _role(role)
    if role == Role.OWNER and manager.role != Role.OWNER:
        raise Forbidden("Only owners can invite owners.")
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Invalid("Not a valid email address.", fields={"email": ["Invalid."]}) from exc
    if Membership.objects.filter(
        organization_id=organization_id, user__email__iexact=email
    ).exists():
        raise Conflict(f"{email} is already a member.")
    organization = Organization.objects.get(pk=organization_id)
    secret = INVITATION_PREFIX + secrets.token_urlsafe(32)
    days = int(getattr(settings, "SCANPULSE_INVITATION_DAYS", 7))
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            digest=_digest(secret),
            invited_by=user,
            expires_at=timezone.now() + timedelta(days=days),
        )
        record(
            action=AuditAction.MEMBER_INVITE,
            actor=user,
            organization_id=organization_id,
            target_type="invitation",
            target_id=invitation.pk,
            target=email,
            details={"role": role},
        )
    send_mail(
        subject=f"You are invited to {organization.name} on scanpulse",
        message=(
            f"{user.email} invited you to join {organization.name} on scanpulse as {role}.\n\n"
            f"Accept the invitation (valid for {days} days, once):\n{link(secret)}\n\n"
            "If you did not expect this, ignore this message.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    return invitation


def invitation_revoke(*, user: User, organization_id: UUID, invitation_id: UUID) -> None:
    require_member(user=user, organization_id=organization_id, action=Action.MEMBER_MANAGE)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(pk=invitation_id, organization_id=organization_id)
            .first()
        )
        if invitation is None:
            raise NotFound("Invitation not found.")
        if invitation.accepted_at is None and invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            record(
                action=AuditAction.MEMBER_INVITE_REVOKE,
                actor=user,
                organization_id=organization_id,
                target_type="invitation",
                target_id=invitation.pk,
                target=invitation.email,
            )


def invitation_find(*, secret: str) -> Invitation:
    """The pending invitation of a link; ``NotFound`` when unknown, used, withdrawn or
    expired (one answer for all, so a link tells nothing about others)."""
    invitation = (
        Invitation.objects.select_related("organization")
        .filter(
            digest=_digest(secret),
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid: it expired, was used or withdrawn.")
    return invitation


def invitation_accept(
    *, secret: str, user: User | None = None, password: str = ""
) -> tuple[Invitation, User]:
    """Accept an invitation, once. Signed in (``user``): as that account. Otherwise the
    invited email's account is created with ``password`` (an existing account must sign in
    first, so a link alone never sets someone's password)."""
    with transaction.atomic():
        invitation = invitation_find(secret=secret)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise NotFound("This invitation link is not valid: it expired, was used or withdrawn.")
        UserModel = get_user_model()
        if user is None:
            if UserModel.objects.filter(username=invitation.email).exists():
                raise Conflict(
                    "An account with this email exists: sign in, then open the link again."
                )
            try:
                validate_password(password)
            except ValidationError as exc:
                raise Invalid(" ".join(exc.messages), fields={"password": exc.messages}) from exc
            user = UserModel.objects.create(username=invitation.email, email=invitation.email)
            user.set_password(password)
            user.save()
        if Membership.objects.filter(organization=invitation.organization, user=user).exists():
            raise Conflict("You are already a member of this organization.")
        Membership.objects.create(
            organization=invitation.organization, user=user, role=invitation.role
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        record(
            action=AuditAction.MEMBER_JOIN,
            actor=user,
            organization_id=invitation.organization_id,
            target_type="user",
            target_id=user.pk,
            target=user.email,
            details={"role": invitation.role, "invited": invitation.email},
        )
    return invitation, user


def _target(organization_id: UUID, user_id: int) -> Membership:
    if not 0 < user_id < 2**31:  # no such id; also out of every database's integer range
        raise NotFound("Member not found.")
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(organization_id=organization_id, user_id=user_id)
        .first()
    )
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def membership_set_role(
    *, user: User, organization_id: UUID, user_id: int, role: str
) -> Membership:
    """Change a member's role. Only an owner makes or unmakes an owner; the last owner keeps
    the role."""
    manager = require_member(
        user=user, organization_id=organization_id, action=Action.MEMBER_MANAGE
    )
    role = _role(role)
    with transaction.atomic():
        membership = _target(organization_id, user_id)
        old = membership.role
        if old == role:
            return membership
        if Role.OWNER in (old, role) and manager.role != Role.OWNER:
            raise Forbidden("Only owners can make someone an owner or change an owner's role.")
        if old == Role.OWNER and _owners(organization_id) <= 1:
            raise Conflict("The last owner cannot be demoted: make someone else owner first.")
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            action=AuditAction.MEMBER_ROLE_CHANGE,
            actor=user,
            organization_id=organization_id,
            target_type="user",
            target_id=membership.user_id,
            target=membership.user.email,
            details={"from": old, "to": role},
        )
    return membership


def membership_remove(*, user: User, organization_id: UUID, user_id: int) -> None:
    """Remove a member (or leave, for oneself). Their open streams of the organization close
    at once (the membership's delete signal). Only an owner removes an owner; the last owner
    stays."""
    leaving = user.pk == user_id
    if leaving:
        manager = membership_of(user=user, organization_id=organization_id)
        if manager is None:
            raise NotFound("Organization not found.")
    else:
        manager = require_member(
            user=user, organization_id=organization_id, action=Action.MEMBER_MANAGE
        )
    with transaction.atomic():
        membership = _target(organization_id, user_id)
        if membership.role == Role.OWNER:
            if not leaving and manager.role != Role.OWNER:
                raise Forbidden("Only owners can remove an owner.")
            if _owners(organization_id) <= 1:
                raise Conflict("The last owner cannot leave: make someone else owner first.")
        email = membership.user.email
        membership.delete()
        record(
            action=AuditAction.MEMBER_REMOVE,
            actor=user,
            organization_id=organization_id,
            target_type="user",
            target_id=user_id,
            target=email,
            details={"role": membership.role, "left": leaving},
        )
