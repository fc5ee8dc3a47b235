"""System checks of where repositories may be fetched from and may lie (run by every
management command, ``serve`` too)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from scanpulse.pipeline.locations import NetworkPolicy


@register()
def repository_locations_are_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        NetworkPolicy.parse(settings.SCANPULSE_GIT_ALLOWED_NETWORKS)
    except ValueError as exc:
        errors.append(
            Error(
                f"SCANPULSE_GIT_ALLOWED_NETWORKS is not valid: {exc}.",
                hint="List networks in CIDR notation (10.0.0.0/8) and host names, "
                "separated by commas.",
                id="scanpulse.E002",
            )
        )
    for root in settings.SCANPULSE_LOCAL_REPO_ROOTS:
        bare = root.replace("{org}", "")
        if not root.startswith("/") or "{" in bare or "}" in bare:
            errors.append(
                Error(
                    f"SCANPULSE_LOCAL_REPO_ROOTS has {root!r}, which is not an absolute directory.",
                    hint="Give absolute directories; {org} stands for an organization's id.",
                    id="scanpulse.E003",
                )
            )
    return errors
