"""System checks of the single sign-on rules (run by every management command, ``serve``
too): a wrong rule is reported at start, not at someone's first sign-in."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from .sso import rule_errors


@register()
def sso_rules_are_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(
            f"Single sign-on rule not valid: {error}.",
            hint='Map each domain or group to "organization:role" (role: owner, admin, member '
            "or viewer).",
            id="scanpulse.E010",
        )
        for error in rule_errors()
    ]
