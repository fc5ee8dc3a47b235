"""Formatting filters for the pages."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django import template

from scanpulse.scans.models import Scan, ScanStatus
from scanpulse.web.presenters import TERMINAL_STEPS
from scanpulse.web.presenters import scan_step as _scan_step

register = template.Library()


@register.filter
def human_duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def short_sha(sha: str | None) -> str:
    return (sha or "")[:12]


@register.filter
def clock(iso_time: str) -> str:
    """``HH:MM:SS`` of an ISO 8601 UTC timestamp, as the live log shows its lines."""
    return iso_time[11:19] if len(iso_time) >= 19 else iso_time


@dataclass(frozen=True, slots=True)
class SplitPath:
    directories: list[str]  # each with its trailing "/"
    name: str


@register.filter
def split_path(path: str | None) -> SplitPath:
    """A file path as its directories and its name, so that a location can wrap after a
    ``/`` while its name and line number (``handlers.py:12``) stay together."""
    *directories, name = (path or "").split("/")
    return SplitPath(directories=[f"{directory}/" for directory in directories], name=name)


@register.filter
def scan_step(scan: Scan) -> str:
    return _scan_step(scan)


@register.simple_tag
def scan_statuses() -> str:
    """The scan statuses for ``live.js`` (as JSON, in an attribute: the pages carry no inline
    script): their labels, and the step each terminal one shows."""
    return json.dumps(
        {
            "labels": dict(ScanStatus.choices),
            "terminal_steps": {str(status): step for status, step in TERMINAL_STEPS.items()},
        },
        separators=(",", ":"),
    )
