"""The schedule form of a project's Schedules page, validated by the API's serializer."""

from __future__ import annotations

from typing import Any

from django import forms

from scanpulse.schedules.apis import ScheduleCreateSerializer
from scanpulse.schedules.models import IntervalPeriod, ScheduleKind

from .forms import ApiValidatedForm, _text


class ScheduleForm(ApiValidatedForm):
    serializer_class = ScheduleCreateSerializer

    ref = _text("Ref", maxlength=255, autocomplete="off", spellcheck="false")
    kind = forms.ChoiceField(label="Runs", choices=ScheduleKind.choices, required=False)
    cron = _text(
        "Cron expression",
        maxlength=200,
        autocomplete="off",
        spellcheck="false",
        placeholder="0 3 * * 1-5",
    )
    timezone = _text("Time zone", maxlength=64, autocomplete="off", spellcheck="false")
    every = _text("Every", inputmode="numeric", autocomplete="off")
    period = forms.ChoiceField(label="Period", choices=IntervalPeriod.choices, required=False)
    enabled = forms.BooleanField(label="Enabled", required=False)

    def __init__(self, *args: Any, default_branch: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"kind": ScheduleKind.CRON, "timezone": "UTC", "enabled": True}
        )
        super().__init__(*args, **kwargs)
        self.fields["ref"].widget.attrs["placeholder"] = default_branch
        self.fields[
            "cron"
        ].help_text = (
            "Five fields: minute hour day-of-month month day-of-week, on the zone's clock."
        )
        self.fields["timezone"].help_text = "An IANA name: Europe/Berlin, America/New_York, UTC."
        self.fields["every"].help_text = "For an interval: a whole number of the period."

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.data.get("kind", ""),
            "timezone": self.data.get("timezone", "") or "UTC",
            "enabled": bool(self.data.get("enabled")),
        }
        if self.data.get("ref"):
            data["ref"] = self.data["ref"]
        if data["kind"] == ScheduleKind.INTERVAL:
            data["every"] = self.data.get("every", "")
            data["period"] = self.data.get("period", "")
        else:
            data["cron"] = self.data.get("cron", "")
        return data
