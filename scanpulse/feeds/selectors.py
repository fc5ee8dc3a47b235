"""What is loaded, from where and how fresh: one read for the Advisories page and the API.

The advisory data is the server's, not an organization's: every signed-in member of any
organization may read it; nobody changes it through the web (the operator syncs with
``scanpulse advisories sync``, beat and the embedded server on their schedule).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from scanpulse.advisories.store import active_dataset, feed_states
from scanpulse.core.exceptions import NotFound
from scanpulse.tenancy.selectors import organization_list
from scanpulse.tenancy.types import User

from .download import export_url, shown_url


def advisory_status(*, user: User) -> dict[str, Any]:
    """``NotFound`` for an account that belongs to no organization."""
    if not organization_list(user=user).exists():
        raise NotFound("Not found.")
    dataset = active_dataset()
    states = {state.ecosystem: state for state in feed_states()}
    configured = list(settings.SCANPULSE_OSV_ECOSYSTEMS)
    rows = []
    for ecosystem in [*configured, *sorted(states.keys() - set(configured))]:
        state = states.get(ecosystem)
        rows.append(
            {
                "ecosystem": ecosystem,
                "records": state.records if state else 0,
                "last_checked_at": state.last_checked_at if state else None,
                "last_changed_at": state.last_changed_at if state else None,
                "source_url": (
                    state.url
                    if state and state.url
                    else shown_url(export_url(settings.SCANPULSE_OSV_BASE_URL, ecosystem))
                ),
                "last_error": state.last_error if state and state.last_error else None,
                "problem_count": state.problem_count if state else 0,
                "problems": list(state.problems) if state else [],
                "synced": ecosystem in configured,
            }
        )
    return {
        "dataset": (
            {
                "source": dataset.source,
                "records": dataset.record_count,
                "loaded_at": dataset.loaded_at,
                "from_feed": dataset.is_feed,
            }
            if dataset is not None
            else None
        ),
        "sync_interval_hours": settings.SCANPULSE_OSV_SYNC_INTERVAL_HOURS,
        "ecosystems": rows,
    }
