"""The forms of an organization's webhook pages, validated by the API's own serializers."""

from __future__ import annotations

from typing import Any

from django import forms

from scanpulse.notifications.apis import EndpointInputSerializer
from scanpulse.notifications.events import EVENTS, RESERVED, SEVERITY_CHOICES, Format

from .forms import ApiValidatedForm


def _event_label(event: str) -> str:
    return f"{event} (sent once dependency monitoring lands)" if event in RESERVED else event


class WebhookForm(ApiValidatedForm):
    serializer_class = EndpointInputSerializer

    name = forms.CharField(
        label="Name", required=False, widget=forms.TextInput(attrs={"maxlength": 100})
    )
    url = forms.CharField(
        label="URL",
        required=False,
        help_text="https:// address that receives the events (a Slack incoming-webhook URL for "
        "the Slack format). It is stored encrypted and shown shortened.",
        widget=forms.TextInput(attrs={"maxlength": 2000, "spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        required=False,
        choices=[(event, _event_label(event)) for event in EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )
    format = forms.ChoiceField(
        label="Format", required=False, choices=Format.choices, initial=Format.JSON
    )
    min_severity = forms.ChoiceField(
        label="alert.new: minimum severity",
        required=False,
        choices=SEVERITY_CHOICES,
        initial="high",
    )

    def payload(self) -> dict[str, Any]:
        return {
            "name": self.data.get("name", ""),
            "url": self.data.get("url", ""),
            "events": self.data.getlist("events") if hasattr(self.data, "getlist") else [],
            "format": self.data.get("format") or Format.JSON,
            "min_severity": self.data.get("min_severity") or "high",
        }
