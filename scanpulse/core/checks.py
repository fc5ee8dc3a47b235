"""System checks of scanpulse's own settings (run by every management command, ``serve`` too).

Those of where repositories may lie are the projects' (``scanpulse.projects.checks``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .throttling import Rate


@register()
def rates_are_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, text in settings.SCANPULSE_THROTTLE_RATES.items():
        if not (text or "").strip():
            continue  # off
        try:
            Rate.parse(text)
        except ValueError as exc:
            errors.append(
                Error(
                    f"The {name} rate is not valid: {exc}.",
                    hint="Use a count per period: 600/minute, 5/15m, 1000/hour; empty for none.",
                    id="scanpulse.E001",
                )
            )
    return errors


@register()
def metrics_allow_ips_are_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for value in settings.SCANPULSE_METRICS_ALLOW_IPS:
        if not value.strip():
            continue
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"SCANPULSE_METRICS_ALLOW_IPS: {value!r} is not an address or a network.",
                    hint="Use addresses or networks, comma-separated: 10.0.0.0/8,fd00::/8.",
                    id="scanpulse.E004",
                )
            )
    return errors
