"""Who may do what in an organization: the one table of write actions and the roles allowed
each, and ``require``, which every service that writes calls before it does.

Reading is membership: every role, ``viewer`` included, sees everything of its organizations.
Writing is listed here, action by action; a role not listed for an action is refused with
``Forbidden`` (403), and someone who is not a member at all gets ``NotFound`` (404), the
answer for what one may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from scanpulse.core.exceptions import Forbidden, NotFound

from .models import Membership, Role, TokenScope
from .selectors import membership_of
from .types import User


class Action(StrEnum):
    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    PROJECT_CHANGE_REPOSITORY = "project.change_repository"
    PROJECT_CHANGE_SCAN_CONFIG = "project.change_scan_config"
    PROJECT_DELETE = "project.delete"
    PROJECT_GATE = "project.gate"
    SCAN_CREATE = "scan.create"
    SCAN_CANCEL = "scan.cancel"
    ALERT_TRIAGE = "alert.triage"
    INBOUND_WEBHOOK_VIEW = "inbound_webhook.view"
    INBOUND_WEBHOOK_ROTATE = "inbound_webhook.rotate"
    CREDENTIAL_MANAGE = "credential.manage"
    WEBHOOK_MANAGE = "webhook.manage"
    SCHEDULE_MANAGE = "schedule.manage"
    MEMBER_MANAGE = "member.manage"
    SSO_MANAGE = "sso.manage"
    AUDIT_VIEW = "audit.view"


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role]
    refusal: str  # what a refused caller is told
    # The least token scope that may do it (a browser session has every scope).
    scope: TokenScope = TokenScope.ADMIN


# Token scopes, weakest first: a token may do what its scope and every weaker one allow.
SCOPE_ORDER = (TokenScope.READ, TokenScope.SCAN, TokenScope.ADMIN)


_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_WRITERS = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})
_READ_ONLY = "Viewers can read but not change anything; ask an owner or admin for a member role."

PERMISSIONS: dict[Action, Rule] = {
    Action.PROJECT_CREATE: Rule(_WRITERS, _READ_ONLY),
    Action.PROJECT_UPDATE: Rule(_WRITERS, _READ_ONLY),
    # What a project fetches decides what its scans read: like deleting it, an owner's or an
    # admin's decision.
    Action.PROJECT_CHANGE_REPOSITORY: Rule(
        _MANAGERS, "Only owners and admins can change a project's repository."
    ),
    # What a scan reports is decided by its configuration, as by the repository it reads: the
    # same people decide.
    Action.PROJECT_CHANGE_SCAN_CONFIG: Rule(
        _MANAGERS, "Only owners and admins can change a project's scan configuration."
    ),
    Action.PROJECT_DELETE: Rule(_MANAGERS, "Only owners and admins can delete projects."),
    # The gate decides which builds pass: a team's decision, not any member's.
    Action.PROJECT_GATE: Rule(
        _MANAGERS, "Only owners and admins can change a project's quality gate."
    ),
    # A CI job's token starts and cancels scans and triages what they found: the scan scope.
    Action.SCAN_CREATE: Rule(_WRITERS, _READ_ONLY, TokenScope.SCAN),
    Action.SCAN_CANCEL: Rule(_WRITERS, _READ_ONLY, TokenScope.SCAN),
    Action.ALERT_TRIAGE: Rule(
        _WRITERS, "Viewers cannot triage alerts; ask for a member role.", TokenScope.SCAN
    ),
    # Whoever knows the inbound secret can start scans of any project: owners and admins only
    # see the webhook's settings and deliveries, and generate its secret.
    Action.INBOUND_WEBHOOK_VIEW: Rule(
        _MANAGERS, "Only owners and admins can see the organization's inbound webhooks."
    ),
    Action.INBOUND_WEBHOOK_ROTATE: Rule(
        _MANAGERS, "Only owners and admins can generate the inbound webhook secret."
    ),
    # Credentials open private repositories, and host-key pins decide which server is trusted:
    # adding, using, removing either is an owner's or an admin's decision. Everyone else sees
    # that a credential exists and its fingerprint, never the secret.
    Action.CREDENTIAL_MANAGE: Rule(
        _MANAGERS, "Only owners and admins can manage credentials and pinned host keys."
    ),
    # Webhooks send the organization's results elsewhere, and their destinations may be
    # credentials themselves (a chat's incoming-webhook address): owners and admins only, for
    # reading them too.
    Action.WEBHOOK_MANAGE: Rule(_MANAGERS, "Only owners and admins can see and manage webhooks."),
    # A schedule starts scans again and again, unattended, on the organization's queue: an
    # owner's or an admin's decision.
    Action.SCHEDULE_MANAGE: Rule(_MANAGERS, "Only owners and admins can manage schedules."),
    # Who belongs and with which role: owners and admins invite, change roles and remove;
    # only an owner makes or unmakes an owner (``tenancy.members``).
    Action.MEMBER_MANAGE: Rule(_MANAGERS, "Only owners and admins can manage members."),
    # The organization's own single sign-on provider signs in the accounts of the organization
    # as whoever it names, owners included: an admin setting it could become any owner. So
    # owners alone see and change it, as only an owner makes owners (``tenancy.members``);
    # its client secret is never shown back.
    Action.SSO_MANAGE: Rule(
        frozenset({Role.OWNER}), "Only owners can see and change single sign-on."
    ),
    # Who did what, from where: owners and admins.
    Action.AUDIT_VIEW: Rule(
        _MANAGERS, "Only owners and admins can read the audit log.", TokenScope.READ
    ),
}

# Every member manages their own API tokens (a token never does more than its user's role).
OWN_TOKENS = frozenset(Role)


def scope_allows(scope: str | None, needed: TokenScope) -> bool:
    """Whether a token of ``scope`` may do what needs ``needed`` (None: a browser session)."""
    if scope is None:
        return True
    if scope not in SCOPE_ORDER:
        return False
    return SCOPE_ORDER.index(TokenScope(scope)) >= SCOPE_ORDER.index(needed)


def allowed(role: str, action: Action) -> bool:
    """Whether ``role`` may do ``action`` (an unknown role may do nothing)."""
    return role in PERMISSIONS[action].roles


def require(membership: Membership | None, action: Action) -> Membership:
    """The membership, if its role may do ``action``; ``NotFound`` without one (the object is
    not the caller's to see), ``Forbidden`` with a role that may not."""
    if membership is None:
        raise NotFound("Organization not found.")
    if not allowed(membership.role, action):
        raise Forbidden(PERMISSIONS[action].refusal)
    scope = getattr(membership, "token_scope", None)
    needed = PERMISSIONS[action].scope
    if not scope_allows(scope, needed):
        raise Forbidden(f"This token's scope ({scope}) does not allow this; it needs {needed}.")
    return membership


def require_member(*, user: User, organization_id: UUID, action: Action) -> Membership:
    """``require`` for ``user``'s membership of the organization."""
    return require(membership_of(user=user, organization_id=organization_id), action)


# What each action is, in the words of the matrix in docs/security.md.
DESCRIPTIONS: dict[Action, str] = {
    Action.PROJECT_CREATE: "create projects",
    Action.PROJECT_UPDATE: "rename a project, change its default branch",
    Action.PROJECT_CHANGE_REPOSITORY: "change a project's repository location",
    Action.PROJECT_CHANGE_SCAN_CONFIG: "change a project's scan configuration",
    Action.PROJECT_DELETE: "delete projects",
    Action.PROJECT_GATE: "change a project's quality gate",
    Action.SCAN_CREATE: "start scans",
    Action.SCAN_CANCEL: "cancel scans",
    Action.ALERT_TRIAGE: "triage alerts (dismiss, reopen)",
    Action.INBOUND_WEBHOOK_VIEW: "see the inbound webhooks and their deliveries",
    Action.INBOUND_WEBHOOK_ROTATE: "generate the inbound webhook secret",
    Action.CREDENTIAL_MANAGE: "add, choose, remove credentials; pin and reset host keys",
    Action.WEBHOOK_MANAGE: "see and manage outbound webhooks",
    Action.SCHEDULE_MANAGE: "manage schedules",
    Action.MEMBER_MANAGE: "invite members, change roles, remove members",
    Action.SSO_MANAGE: "see and change the organization's single sign-on provider",
    Action.AUDIT_VIEW: "read the audit log (page, API, CSV)",
}


def matrix_rows() -> list[tuple[str, ...]]:
    """The permission matrix as docs/security.md shows it: one row per action, then reading
    and one's own tokens, which every role may."""
    roles = [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER]
    rows = [
        (
            f"`{action.value}`",
            DESCRIPTIONS[action],
            *("yes" if role in PERMISSIONS[action].roles else "no" for role in roles),
            PERMISSIONS[action].scope.value,
        )
        for action in Action
    ]
    rows.append(
        (
            "(read)",
            "read everything of the organization, streams included",
            *("yes" for _ in roles),
            TokenScope.READ.value,
        )
    )
    rows.append(
        (
            "(own tokens)",
            "create, list and revoke one's own API tokens",
            *("yes" if role in OWN_TOKENS else "no" for role in roles),
            TokenScope.ADMIN.value,
        )
    )
    return rows
