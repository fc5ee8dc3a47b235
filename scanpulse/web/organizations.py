"""The organization a browser session works in: users may belong to several and pick one."""

from __future__ import annotations

from dataclasses import dataclass

from scanpulse.tenancy.models import Organization
from scanpulse.tenancy.selectors import organization_list
from scanpulse.tenancy.types import SignedInHttpRequest

SESSION_KEY = "scanpulse.organization"


@dataclass(frozen=True, slots=True)
class OrganizationChoice:
    """The session's organization and every one the user may switch to."""

    current: Organization | None
    available: list[Organization]


def organization_choice(request: SignedInHttpRequest) -> OrganizationChoice:
    """The organization kept in the session while the user still belongs to it, else their
    first one. Read fresh on every request: its ``last_event_seq`` is a stream cursor."""
    available = list(organization_list(user=request.user))
    chosen = request.session.get(SESSION_KEY)
    current = next((org for org in available if str(org.pk) == chosen), None)
    if current is None and available:
        current = available[0]
    return OrganizationChoice(current=current, available=available)


def organization_choose(
    request: SignedInHttpRequest, *, organization_id: str
) -> Organization | None:
    """Keep ``organization_id`` in the session if the user belongs to it."""
    organization = organization_list(user=request.user).filter(pk=organization_id).first()
    if organization is not None:
        request.session[SESSION_KEY] = str(organization.pk)
    return organization
