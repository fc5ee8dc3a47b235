"""A project's quality gate: the conditions every completed scan of the project must meet.

The policy is a small JSON object stored on the project (``Project.gate_policy``); every key
is one condition, off when null (or false):

| key | the scan fails when |
| --- | --- |
| ``no_new_alerts_at_or_above`` | an alert at or above this severity is new in the scan |
| ``no_secrets`` | a secret is found and not dismissed |
| ``no_fixable_dependency_alerts_older_than_days`` | a vulnerable dependency has a fix, known for more than this many days |
| ``require_complete`` | the scan did not look at everything |
| ``max_open_alerts`` | more than ``count`` alerts at or above ``severity`` are open |

The default policy has one condition on, ``require_complete``: a scan that did not look at
everything (an analyzer failed, a file was skipped or only partly analyzed, a manifest not
checked) never passes it, whatever it found; every other condition is off. A project that
stored no policy of its own (``{}``) follows the default. Evaluating it is the scans' business (``scans.gate``); this
module only reads, checks and writes the policy. No Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanpulse.core.exceptions import Invalid
from scanpulse.pipeline.coverage import GATE_SEVERITIES

# The conditions, in the order they are evaluated and shown.
CONDITIONS = (
    "no_new_alerts_at_or_above",
    "no_secrets",
    "no_fixable_dependency_alerts_older_than_days",
    "max_open_alerts",
    "require_complete",
)

MAX_DAYS = 3650
MAX_COUNT = 1_000_000
FIELD = "gate_policy"


@dataclass(frozen=True, slots=True)
class QualityGate:
    no_new_alerts_at_or_above: str | None = None
    no_secrets: bool = False
    no_fixable_dependency_alerts_older_than_days: int | None = None
    max_open_alerts: tuple[str, int] | None = None  # (severity, count)
    require_complete: bool = False

    def to_json(self) -> dict[str, Any]:
        open_alerts = self.max_open_alerts
        return {
            "no_new_alerts_at_or_above": self.no_new_alerts_at_or_above,
            "no_secrets": self.no_secrets,
            "no_fixable_dependency_alerts_older_than_days": (
                self.no_fixable_dependency_alerts_older_than_days
            ),
            "max_open_alerts": (
                None
                if open_alerts is None
                else {"severity": open_alerts[0], "count": open_alerts[1]}
            ),
            "require_complete": self.require_complete,
        }

    def enabled(self) -> list[str]:
        """The conditions that are on, in ``CONDITIONS`` order."""
        values = self.to_json()
        return [name for name in CONDITIONS if values[name] not in (None, False)]

    @classmethod
    def from_stored(cls, stored: object) -> QualityGate:
        """The policy as stored on a project; anything unreadable is the default (the stored
        form is always written by ``parse_policy``, so this is for rows older than it)."""
        if not isinstance(stored, Mapping) or not stored:
            return DEFAULT_GATE
        try:
            return parse_policy(stored)
        except Invalid:
            return DEFAULT_GATE


DEFAULT_GATE = QualityGate(require_complete=True)


def _invalid(key: str, message: str) -> Invalid:
    return Invalid(f"Invalid quality gate: {key}: {message}", fields={f"{FIELD}.{key}": [message]})


def _severity(key: str, value: object) -> str:
    if not isinstance(value, str) or value not in GATE_SEVERITIES:
        raise _invalid(key, f"One of {', '.join(GATE_SEVERITIES)}.")
    return value


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _invalid(key, "true or false.")
    return value


def _number(key: str, value: object, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(key, f"A whole number from {low} to {high}.")
    return value


def parse_policy(data: object, *, base: QualityGate | None = None) -> QualityGate:
    """The policy ``data`` describes, its keys applied over ``base`` (a change leaves the keys
    it does not name as they were; null turns a condition off). ``Invalid`` names the key at
    fault (``gate_policy.<key>``)."""
    if not isinstance(data, Mapping):
        raise Invalid(
            "Invalid quality gate: an object of conditions.",
            fields={FIELD: ['An object of conditions, e.g. {"no_secrets": true}.']},
        )
    unknown = sorted(str(key) for key in data if key not in CONDITIONS)
    if unknown:
        raise _invalid(
            unknown[0], f"Unknown condition; the conditions are {', '.join(CONDITIONS)}."
        )
    values: dict[str, Any] = {}
    base = base or DEFAULT_GATE
    for key, value in data.items():
        if key == "no_new_alerts_at_or_above":
            values[key] = None if value is None else _severity(key, value)
        elif key in ("no_secrets", "require_complete"):
            values[key] = False if value is None else _flag(key, value)
        elif key == "no_fixable_dependency_alerts_older_than_days":
            values[key] = None if value is None else _number(key, value, low=0, high=MAX_DAYS)
        elif key == "max_open_alerts":
            values[key] = None if value is None else _open_alerts(value)
    current = {
        "no_new_alerts_at_or_above": base.no_new_alerts_at_or_above,
        "no_secrets": base.no_secrets,
        "no_fixable_dependency_alerts_older_than_days": (
            base.no_fixable_dependency_alerts_older_than_days
        ),
        "max_open_alerts": base.max_open_alerts,
        "require_complete": base.require_complete,
    }
    return QualityGate(**(current | values))


def _open_alerts(value: object) -> tuple[str, int]:
    key = "max_open_alerts"
    if not isinstance(value, Mapping):
        raise _invalid(key, 'An object {"severity": "high", "count": 0}, or null.')
    unknown = sorted(str(name) for name in value if name not in ("severity", "count"))
    if unknown:
        raise _invalid(f"{key}.{unknown[0]}", "Unknown; give severity and count.")
    for name in ("severity", "count"):
        if name not in value:
            raise _invalid(f"{key}.{name}", "Required.")
    return (
        _severity(f"{key}.severity", value["severity"]),
        _number(f"{key}.count", value["count"], low=0, high=MAX_COUNT),
    )
